"""The runner's logger and the structured fields it attaches to records."""

from __future__ import annotations

import logging
from typing import Any

from ._hooks import TaskInfo

__all__ = ["describe", "describe_error", "logger", "task_fields"]

logger = logging.getLogger("tempest_sdk.runner")


def task_fields(info: TaskInfo, **more: Any) -> dict[str, Any]:
    """The `extra=` fields of a record about one task: ids and kind, never its input."""
    return dict(info.fields(**more))


def describe(info: TaskInfo) -> str:
    """A task in words: `create example`, `action rebuild on example`, `list example`."""
    return info.subject.describe()


def describe_error(exc: BaseException) -> str:
    """An exception in words: `Type: message`, or the type alone when it says nothing."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
