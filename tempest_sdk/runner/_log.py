"""The runner's logger and the structured fields it attaches to records."""

from __future__ import annotations

import logging

from ._hooks import TaskInfo

__all__ = ["SUMMARY_LOGGER", "describe", "describe_error", "logger", "summary_logger"]

logger = logging.getLogger("tempest_sdk.runner")

SUMMARY_LOGGER = "tempest_sdk.runner.summary"
summary_logger = logging.getLogger(SUMMARY_LOGGER)
"""The one line a one-shot run ends with: its own logger, so that a program (the
command line) can show it at INFO while it shows the rest of the SDK from WARNING."""


def describe(info: TaskInfo) -> str:
    """A task in words: `create example`, `action rebuild on example`, `list example`."""
    return info.subject.describe()


def describe_error(exc: BaseException) -> str:
    """An exception in words: `Type: message`, or the type alone when it says nothing."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
