"""Sample inputs built from an input schema, and sample tasks built around them."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

from ..models import Task, TaskMetadata, parse_task

__all__ = ["TaskOptions", "run_suffix", "sample_input", "sample_task"]

_PLACEHOLDERS: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1.0,
    "boolean": False,
    "array": [],
}
_task_ids = itertools.count(1)


def sample_input(schema: Mapping[str, Any] | None, *, unique: str = "") -> dict[str, Any]:
    """A plausible input for an object schema.

    Each property takes its `default`, else its first `examples` entry, else its first
    `enum` value; required properties without any of those get a placeholder of their
    type (respecting `minimum`/`minLength` where given).

    Args:
        schema: the input's JSON Schema.
        unique: a suffix for the string values taken from `examples` or made up as
            placeholders, where the schema allows it (no `pattern` or `format` it
            would break, within `maxLength`): so that two smoke runs against one
            service create different things and never collide.
    """
    if not schema:
        return {}
    required = set(schema.get("required") or ())
    result: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, Mapping):
            continue
        if "default" in prop:
            result[name] = prop["default"]
        elif prop.get("examples"):
            result[name] = _unique(prop["examples"][0], prop, unique)
        elif prop.get("enum"):
            result[name] = prop["enum"][0]
        elif "const" in prop:
            result[name] = prop["const"]
        elif name in required:
            result[name] = _unique(_placeholder(prop), prop, unique)
    return result


def _unique(value: Any, prop: Mapping[str, Any], suffix: str) -> Any:
    """`value` with `-suffix`, when it is a string the schema lets take one."""
    if not suffix or not isinstance(value, str) or "format" in prop:
        return value
    made = f"{value}-{suffix}"
    limit = prop.get("maxLength")
    if isinstance(limit, int) and len(made) > limit:
        return value
    pattern = prop.get("pattern")
    if isinstance(pattern, str):
        try:
            if re.search(pattern, made) is None:
                return value
        except re.error:
            return value
    return made


def run_suffix() -> str:
    """A short random suffix, different for every smoke run."""
    return secrets.token_hex(3)


def _placeholder(prop: Mapping[str, Any]) -> Any:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("integer", "number"):
        low = prop.get("minimum", prop.get("exclusiveMinimum", 0))
        value = max(_PLACEHOLDERS[kind], low + (1 if "exclusiveMinimum" in prop else 0))
        return int(value) if kind == "integer" else float(value)
    if kind == "string":
        return "example".ljust(int(prop.get("minLength", 0)), "x")
    return _PLACEHOLDERS.get(str(kind))


class TaskOptions(TypedDict, total=False):
    """What a sample task is about (all optional).

    Attributes:
        input: the operation's or action's input.
        external_id: the external id of the resource the task is about.
        next: for `list`, the page cursor (`""` for the first page).
        env: plain environment variables, `{name: value}`.
        secrets: `secret` environment variables, `{name: value}`.
        task_id: the task id (default: a fresh local one).
        metadata: owners, author and project (default: realistic ones).
    """

    input: Mapping[str, Any] | None
    external_id: str
    next: str
    env: Mapping[str, str] | None
    secrets: Mapping[str, str] | None
    task_id: str | None
    metadata: TaskMetadata | None


def sample_task(resource_type: str, name: str, **options: Unpack[TaskOptions]) -> Task:
    """A task for an operation (`create`, `read`, `update`, `delete`), `list`, or an action,
    shaped like the emulator's (and Tempest's): realistic resource and metadata.

    See `TaskOptions` for the options; `env` become `variable` environment variables
    and `secrets` become `secret` ones.
    """
    from ..emulator import environment_of, list_request, next_answer, resource_request

    number = next_id()
    request: dict[str, Any]
    if name == "list":
        request = list_request(resource_type, options.get("next", ""))
    else:
        request = resource_request(
            resource_type,
            name,
            external_id=options.get("external_id", ""),
            input=options.get("input"),
            environment_variables=environment_of(
                options.get("env") or {}, options.get("secrets") or {}
            ),
            resource_id=f"res-local-{number}",
        )
    task_id = options.get("task_id") or f"task-local-{number}"
    return parse_task(next_answer(task_id, request, options.get("metadata")))


def next_id() -> int:
    """A process-wide increasing number for local task ids."""
    return next(_task_ids)
