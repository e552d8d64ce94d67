"""The runner's logger and the structured fields it attaches to records."""

from __future__ import annotations

import logging
from typing import Any

from ._hooks import TaskInfo

__all__ = ["describe", "describe_error", "logger", "task_fields"]

logger = logging.getLogger("tempest_sdk.runner")


def task_fields(info: TaskInfo, **more: Any) -> dict[str, Any]:
    """The `extra=` fields of a record about one task: ids and kind, never its input."""
    fields: dict[str, Any] = {
        "app_id": info.app_id,
        "app_version": info.version,
        "task_id": info.task_id,
        "task_kind": info.kind,
        "resource_type": info.resource_type,
        "operation": info.name if info.kind != "action" else None,
        "action": info.name if info.kind == "action" else None,
    }
    fields.update(more)
    return fields


def describe(info: TaskInfo) -> str:
    """A task in words: `create example`, `action rebuild on example`, `list example`."""
    if info.kind == "action":
        return f"action {info.name} on {info.resource_type}"
    return f"{info.name} {info.resource_type}"


def describe_error(exc: BaseException) -> str:
    """An exception in words: `Type: message`, or the type alone when it says nothing."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
