"""The runner's logger and the structured fields it attaches to records."""

from __future__ import annotations

import logging

from ._hooks import TaskInfo

__all__ = ["describe", "describe_error", "logger"]

logger = logging.getLogger("tempest_sdk.runner")


def describe(info: TaskInfo) -> str:
    """A task in words: `create example`, `action rebuild on example`, `list example`."""
    return info.subject.describe()


def describe_error(exc: BaseException) -> str:
    """An exception in words: `Type: message`, or the type alone when it says nothing."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
