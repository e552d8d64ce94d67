"""`JsonLogFormatter`: one JSON object per log record, for log collectors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ._secrets import mask_data

__all__ = ["TASK_FIELDS", "JsonLogFormatter"]

# The `extra=` fields the SDK's own records carry (the runner's task, poll and report
# records, and `ctx.logger`'s): ids, kinds, outcomes and counts, never inputs or
# environment values.
TASK_FIELDS = (
    "app_id",
    "app_version",
    "task_id",
    "task_kind",
    "resource_type",
    "operation",
    "action",
    "status",
    "duration",
    "failures",
)


class JsonLogFormatter(logging.Formatter):
    """Formats each log record as one line of JSON, for log collectors.

    Each line holds `time` (RFC 3339, UTC), `level`, `logger` and `message`, then
    `exception` (the formatted traceback) and `stack` when the record has them, then
    the task fields the SDK's records carry (`app_id`, `app_version`, `task_id`,
    `task_kind`, `resource_type`, `operation` or `action`, `status`, `duration`,
    `failures`) where present. Other `extra=` attributes are left out unless named in
    `fields`.

    The message is the record's own, formatted once: its arguments are never written
    apart. Secrets the SDK knows of (every running task's sensitive variables and
    secret inputs, the serving apps' secret settings, `ctx.mask` values) are masked
    in every string of the line, in every form (see `MaskingFilter`), whichever
    logger and thread the record comes from.

    Example:
        ```python
        handler = logging.StreamHandler()
        handler.setFormatter(tempest_sdk.JsonLogFormatter())
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        ```

    Args:
        fields: more record attributes to include (your own `extra=` keys); values
            that are not JSON types are written as `str(value)`.
    """

    def __init__(self, *, fields: Iterable[str] = ()) -> None:
        super().__init__()
        fields = tuple(fields)
        for name in fields:
            if not isinstance(name, str) or not name:
                raise TypeError(f"fields must be attribute names (strings), got {name!r}")
        self._fields = tuple(dict.fromkeys((*TASK_FIELDS, *fields)))

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        data: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        attributes = record.__dict__
        for name in self._fields:
            value = attributes.get(name)
            if value is not None:
                data[name] = value if isinstance(value, str | int | float) else str(value)
        if "app_version" not in data and record.name.startswith("tempest_sdk"):
            # `ctx.logger`'s records name the app version `version`.
            version = attributes.get("version")
            if isinstance(version, str):
                data["app_version"] = version
        # Whatever filters the handler has: every string of the line, with every
        # secret known now (all tasks in flight, any thread), before encoding.
        return json.dumps(mask_data(data), ensure_ascii=False)


def _rfc3339(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
