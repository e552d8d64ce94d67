"""Options shared by the commands that describe one task (`invoke`, `enqueue`)."""

from __future__ import annotations

import argparse

__all__ = ["task_arguments"]


def task_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--input`, `--external-id`, `--next`, `--env` and `--secret` to `parser`."""
    parser.add_argument("--input", help="the input as JSON, or @path to a JSON file")
    parser.add_argument("--external-id", default="", help="the resource's external id")
    parser.add_argument("--next", default="", help="for list: the page cursor")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="a variable"
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="NAME[=VALUE|=@FILE]",
        help="a secret: NAME=VALUE, NAME=@FILE (read from a file) or NAME (from the environment)",
    )
