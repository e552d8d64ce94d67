"""The structured fields of every log record about a task: one vocabulary, defined once.

The runner, dispatch and `ctx.logger` attach these as `extra=`; the JSON formatter
writes them. An action task carries `action`, every other task `operation`, never both.
"""

from __future__ import annotations

from typing import Any

from .models import TaskSubject

__all__ = ["app_fields", "task_fields"]


def app_fields(app_id: str, app_version: str) -> dict[str, Any]:
    """The fields of a record about an app version (connect, health, lifespan)."""
    return {"app_id": app_id, "app_version": app_version}


def task_fields(
    app_id: str, app_version: str, task_id: str | None, subject: TaskSubject | None, **more: Any
) -> dict[str, Any]:
    """The fields of a record about one task: ids and kind, never its input.

    `task_id` is None for an answer that names no task, `subject` for a task whose
    request could not be read.
    """
    fields: dict[str, Any] = {"app_id": app_id, "app_version": app_version}
    if task_id is not None:
        fields["task_id"] = task_id
    if subject is not None:
        fields["task_kind"] = subject.kind
        fields["resource_type"] = subject.resource_type
        if subject.kind == "action":
            fields["action"] = subject.name
        else:
            fields["operation"] = subject.name
    fields.update(more)
    return fields
