"""Options shared by several commands: the app reference, `--full-tracebacks`, and what
describes one task (`invoke`, `enqueue`)."""

from __future__ import annotations

import argparse

from ._errors import CLIError

__all__ = [
    "APP_HELP",
    "check_applies",
    "full_tracebacks_argument",
    "is_action",
    "task_arguments",
]

APP_HELP = "an app reference: 'module:attr' or 'path/to/app.py[:attr]' (attr defaults to 'app')"

# What each kind of task carries, so that an option it would silently ignore is refused.
_APPLIES = {
    "create": ("--input", "--env", "--secret"),
    "read": ("--external-id", "--env", "--secret"),
    "update": ("--external-id", "--input", "--env", "--secret"),
    "delete": ("--external-id", "--env", "--secret"),
    "list": ("--next",),
}
_ACTION = ("--external-id", "--input", "--env", "--secret")


def full_tracebacks_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--full-tracebacks` to `parser`."""
    parser.add_argument(
        "--full-tracebacks",
        action="store_true",
        help="log handlers' tracebacks whole, with the SDK's own frames",
    )


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


def check_applies(args: argparse.Namespace, name: str, *, action: bool) -> None:
    """Refuse the task options that a task `name` (an operation, `list`, or an action's
    name when `action`) would ignore, naming those it takes.

    Raises:
        CLIError: an option does not apply (exit 2).
    """
    given = {
        "--input": args.input is not None,
        "--external-id": bool(args.external_id),
        "--next": bool(args.next),
        "--env": bool(args.env),
        "--secret": bool(args.secret),
    }
    applies = _ACTION if action else _APPLIES[name]
    wrong = [flag for flag, present in given.items() if present and flag not in applies]
    if wrong:
        kind = f"action {name!r}" if action else name
        why = " (list tasks carry no input and no variables)" if name == "list" else ""
        raise CLIError(
            f"{', '.join(wrong)} does not apply to {kind}{why}; it takes: {', '.join(applies)}"
        )


def is_action(name: str) -> bool:
    """Whether `invoke`'s operation_or_action argument names an action."""
    return name not in _APPLIES
