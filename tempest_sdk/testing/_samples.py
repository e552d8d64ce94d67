"""Sample inputs built from an input schema, and sample tasks built around them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from ..models import (
    EnvironmentVariableType,
    ExecuteResourceActionRequest,
    ExecuteResourceOperationRequest,
    ListResourcesRequest,
    Operation,
    Owner,
    OwnerType,
    Resource,
    Task,
    TaskMetadata,
    TaskRequest,
)

__all__ = ["sample_input", "sample_metadata", "sample_task"]

_PLACEHOLDERS: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1.0,
    "boolean": False,
    "array": [],
}
_task_ids = itertools.count(1)


def sample_input(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plausible input for an object schema.

    Each property takes its `default`, else its first `examples` entry, else its first
    `enum` value; required properties without any of those get a placeholder of their
    type (respecting `minimum`/`minLength` where given).
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
            result[name] = prop["examples"][0]
        elif prop.get("enum"):
            result[name] = prop["enum"][0]
        elif "const" in prop:
            result[name] = prop["const"]
        elif name in required:
            result[name] = _placeholder(prop)
    return result


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


def sample_metadata() -> TaskMetadata:
    """Task metadata like Tempest sends: a project, its owners, the task's author."""
    author = Owner(email="ada@example.com", name="Ada Lovelace", type=OwnerType.USER)
    team = Owner(email="platform@example.com", name="Platform", type=OwnerType.TEAM)
    return TaskMetadata(
        owners=[author, team], author=author, project_id="prj_local", project_name="Local project"
    )


def sample_task(
    resource_type: str,
    name: str,
    *,
    input: Mapping[str, Any] | None = None,
    external_id: str = "",
    next: str = "",
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    task_id: str | None = None,
    metadata: TaskMetadata | None = None,
) -> Task:
    """A task for an operation (`create`, `read`, `update`, `delete`), `list`, or an action.

    `env` become `variable` environment variables and `secrets` become `secret` ones.
    """
    resource = Resource(type=resource_type, external_id=external_id, display_name=external_id)
    variables = [
        {"name": k, "value": v, "type": EnvironmentVariableType.VARIABLE}
        for k, v in (env or {}).items()
    ] + [
        {"name": k, "value": v, "type": EnvironmentVariableType.SECRET}
        for k, v in (secrets or {}).items()
    ]
    request: TaskRequest
    if name == "list":
        request = ListResourcesRequest(resource=resource, next=next)
    elif name in Operation.__members__.values():
        request = ExecuteResourceOperationRequest.model_validate(
            {
                "resource": resource,
                "operation": name,
                "input": dict(input or {}),
                "environment_variables": variables,
            }
        )
    else:
        request = ExecuteResourceActionRequest.model_validate(
            {
                "resource": resource,
                "action": name,
                "input": dict(input or {}),
                "environment_variables": variables,
            }
        )
    return Task(
        task_id=task_id or f"task-local-{next_id()}",
        task=request,
        metadata=metadata or sample_metadata(),
    )


def next_id() -> int:
    """A process-wide increasing number for local task ids."""
    return next(_task_ids)
