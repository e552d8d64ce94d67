"""Task payloads as the control plane sends them: realistic resources, metadata, env.

These builders are public (`tempest_sdk.emulator`): the emulator's `enqueue_*` helpers,
the testing kit's `sample_task` and the `tempest-sdk enqueue` command all build their
tasks with them, so a task looks the same wherever it comes from.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypedDict, Unpack

from pydantic import BaseModel

from ..models import (
    EnvironmentVariable,
    Operation,
    Task,
    TaskMetadata,
    WireModel,
)
from ._shape import compile_model

__all__ = [
    "DEFAULT_PROJECT",
    "EnvironmentInput",
    "ResourceTaskOptions",
    "action_request",
    "build_answer",
    "check_options",
    "contract_problems",
    "default_environment",
    "default_metadata",
    "environment_of",
    "list_request",
    "next_answer",
    "operation_request",
    "resource_request",
    "type_and_operation",
]

ORGANIZATION_ID: Final = "org_emulator"
_OPERATIONS: Final = frozenset(o.value for o in Operation)

DEFAULT_PROJECT: Final[Mapping[str, Any]] = {
    "id": "proj_emulator",
    "name": "emulator-project",
    "organization_id": ORGANIZATION_ID,
    "type": "service",
    "team_id": "team_platform",
    "published": True,
    "from_recipe": "rec_emulator",
    "created_at": "2024-01-15T09:30:00Z",
    "updated_at": "2024-06-01T12:00:00Z",
}
"""The project every task's metadata names unless told otherwise (also served by
`projects.get`)."""

EnvironmentInput = Mapping[str, str] | Sequence[EnvironmentVariable | Mapping[str, Any]] | None
"""Environment variables for a task: `{name: value}` (all plain variables), a list of
`EnvironmentVariable` or `{name, value, type}` dicts, or None for the defaults."""


def default_metadata() -> dict[str, Any]:
    """Who asked for a task, as the control plane tells it: owners, author, project."""
    return {
        "owners": [
            {"email": "platform@example.com", "name": "Platform Team", "type": "team"},
            {"email": "ada@example.com", "name": "Ada Lovelace", "type": "user"},
        ],
        "author": {"email": "ada@example.com", "name": "Ada Lovelace", "type": "user"},
        "project_id": DEFAULT_PROJECT["id"],
        "project_name": DEFAULT_PROJECT["name"],
    }


def default_environment() -> list[dict[str, str]]:
    """The environment variables of a task that names none: a plain variable
    (`ENVIRONMENT`) and a secret (`API_TOKEN`), so apps get to handle both kinds."""
    return [
        {"name": "ENVIRONMENT", "value": "emulator", "type": "variable"},
        {"name": "API_TOKEN", "value": "emulator-secret-value", "type": "secret"},
    ]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ResourceTaskOptions(TypedDict, total=False):
    """What an operation or action task says about its resource (all optional).

    Attributes:
        external_id: the resource's external id (empty for a create).
        display_name: the resource's display name (default: the external id).
        input: the operation's or action's input (default `{}` for create, update and
            actions; none for read and delete).
        properties: the resource's current properties.
        environment_variables: `{name: value}`, a list of `EnvironmentVariable` or
            `{name, value, type}`; default: `default_environment()`.
    """

    external_id: str
    display_name: str | None
    input: Mapping[str, Any] | None
    properties: Mapping[str, Any] | None
    environment_variables: EnvironmentInput


def _resource(
    resource_type: str, resource_id: str | None, options: ResourceTaskOptions
) -> dict[str, Any]:
    external_id = options.get("external_id", "")
    display_name = options.get("display_name")
    resource: dict[str, Any] = {
        "type": resource_type,
        "external_id": external_id,
        "display_name": display_name if display_name is not None else external_id,
        "organization_id": ORGANIZATION_ID,
    }
    if resource_id is not None:
        now = _now()
        resource |= {"id": resource_id, "status": "active"}
        resource |= {"created_at": now, "updated_at": now, "synced_at": now}
    properties = options.get("properties")
    if properties is not None:
        resource["properties"] = dict(properties)
    return resource


def _resource_id(resource_id: str | None) -> str:
    return resource_id if resource_id is not None else f"res_{uuid.uuid4().hex[:12]}"


def _environment(environment: EnvironmentInput) -> list[dict[str, Any]]:
    if environment is None:
        return default_environment()
    if isinstance(environment, Mapping):
        return [{"name": k, "value": v, "type": "variable"} for k, v in environment.items()]
    return [v.to_wire() if isinstance(v, WireModel) else dict(v) for v in environment]


def check_options(options: Mapping[str, object], kind: type[Any]) -> None:
    """Refuse keywords `kind` (a TypedDict) does not have: typed `**options` are not
    checked at run time, and a misspelt option must not be dropped silently.

    Raises:
        TypeError: naming each unknown keyword and the known ones.
    """
    known: frozenset[str] = kind.__optional_keys__ | kind.__required_keys__
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"unexpected keyword argument {', '.join(map(repr, unknown))}: "
            f"the options are {', '.join(sorted(known))}"
        )


def _is_operation(name: object) -> bool:
    return isinstance(name, str) and name in _OPERATIONS


def type_and_operation(
    resource_type: str, operation: Operation | str, caller: str
) -> tuple[str, Operation]:
    """Read a `(resource_type, operation)` pair, accepting the old operation-first order.

    The old order is recognised when the first is an operation name (`create`, `read`,
    `update`, `delete`) and the second is not: it is swapped, with a
    `DeprecationWarning`. When both are operation names (a type named `delete`, say),
    the pair is read type first, as written.

    Raises:
        ValueError: the operation is not one of the four.
    """
    if _is_operation(resource_type) and not _is_operation(operation):
        warnings.warn(
            f"{caller}({resource_type!r}, {operation!r}): the resource type comes first "
            f"now; write {caller}({operation!r}, {str(resource_type)!r}). The "
            "operation-first order is deprecated and will be removed.",
            DeprecationWarning,
            stacklevel=3,
        )
        resource_type, operation = str(operation), resource_type
    try:
        return resource_type, Operation(operation)
    except ValueError:
        known = ", ".join(repr(o.value) for o in Operation)
        raise ValueError(
            f"unknown operation {operation!r}: use one of {known} (the type comes first, "
            f"here {resource_type!r}; an action goes through action_request/enqueue_action)"
        ) from None


def operation_request(
    resource_type: str,
    operation: Operation | str,
    *,
    resource_id: str | None = None,
    **options: Unpack[ResourceTaskOptions],
) -> dict[str, Any]:
    """An `execute_resource_operation` task, as the control plane sends it.

    Args:
        resource_type: the resource type, e.g. `"example"`.
        operation: `create`, `read`, `update` or `delete`. The old order, operation
            first (`operation_request("create", "example")`), still works with a
            `DeprecationWarning` (see `type_and_operation`).
        resource_id: Tempest's id of the resource (default: a fresh one); a resource
            being created has none yet, so a create ignores it.
        **options: the resource and the input (see `ResourceTaskOptions`).

    Raises:
        ValueError: an unknown operation.
    """
    resource_type, op = type_and_operation(resource_type, operation, "operation_request")
    rid = None if op is Operation.CREATE else _resource_id(resource_id)
    request: dict[str, Any] = {
        "request_type": "execute_resource_operation",
        "operation": op.value,
        **_on_resource(resource_type, rid, options),
    }
    if "input" not in request and op in (Operation.CREATE, Operation.UPDATE):
        request["input"] = {}
    return request


def action_request(
    resource_type: str,
    action: str,
    *,
    resource_id: str | None = None,
    **options: Unpack[ResourceTaskOptions],
) -> dict[str, Any]:
    """An `execute_resource_action` task, as the control plane sends it.

    Arguments are those of `operation_request`, with `action` the action's name and
    `input` defaulting to `{}`.
    """
    request = {
        "request_type": "execute_resource_action",
        "action": action,
        **_on_resource(resource_type, _resource_id(resource_id), options),
    }
    request.setdefault("input", {})
    return request


def resource_request(
    resource_type: str,
    name: str,
    *,
    resource_id: str | None = None,
    **options: Unpack[ResourceTaskOptions],
) -> dict[str, Any]:
    """The task for `name` on `resource_type`: an operation's when `name` is `create`,
    `read`, `update` or `delete`, else an action's (a list has `list_request`).

    Arguments are those of `operation_request`.
    """
    build = operation_request if _is_operation(name) else action_request
    return build(resource_type, name, resource_id=resource_id, **options)


def environment_of(
    variables: Mapping[str, str], secrets: Mapping[str, str]
) -> list[dict[str, str]]:
    """A task's environment variables: `variables` plain, then `secrets` as secrets
    (what `environment_variables=` takes)."""
    return [
        *({"name": k, "value": v, "type": "variable"} for k, v in variables.items()),
        *({"name": k, "value": v, "type": "secret"} for k, v in secrets.items()),
    ]


def _on_resource(
    resource_type: str, resource_id: str | None, options: ResourceTaskOptions
) -> dict[str, Any]:
    """The resource, environment and input of a task that acts on one resource."""
    check_options(options, ResourceTaskOptions)
    fields: dict[str, Any] = {
        "resource": _resource(resource_type, resource_id, options),
        "environment_variables": _environment(options.get("environment_variables")),
    }
    given = options.get("input")
    if given is not None:
        fields["input"] = dict(given)
    return fields


def list_request(resource_type: str, next: str = "") -> dict[str, Any]:
    """A `list_resources` task for one page, as the control plane sends it.

    Args:
        resource_type: the resource type to list.
        next: the page cursor: `""` for the first page, else the `next` of the page before.
    """
    return {
        "request_type": "list_resources",
        "resource": {"type": resource_type, "external_id": "", "display_name": ""},
        "next": next,
    }


def next_answer(
    task_id: str,
    request: Mapping[str, Any] | BaseModel,
    metadata: Mapping[str, Any] | TaskMetadata | None = None,
) -> dict[str, Any]:
    """The whole `apps.operations.next` answer for a task, checked against the contract.

    Read it into a `Task` with `tempest_sdk.models.parse_task`.

    Args:
        task_id: the task id.
        request: the task (`operation_request`, `action_request`, `list_request`, or
            any task of the contract as a dict or a model).
        metadata: owners, author and project; default: `default_metadata()`.

    Raises:
        ValueError: the task or its metadata would break the contract; the message
            names each field, what was expected and what was given.
    """
    answer = build_answer(task_id, request, metadata)
    problems = contract_problems(answer)
    if problems:
        raise ValueError("invalid task: " + "; ".join(problems))
    return answer


def build_answer(
    task_id: str,
    request: Mapping[str, Any] | BaseModel,
    metadata: Mapping[str, Any] | TaskMetadata | None,
) -> dict[str, Any]:
    """The `next` answer for a task, not yet checked (see `contract_problems`)."""
    if isinstance(metadata, TaskMetadata):
        meta = metadata.to_wire()
    else:
        meta = dict(metadata) if metadata is not None else default_metadata()
    if isinstance(request, WireModel):
        body = request.to_wire()
    elif isinstance(request, BaseModel):
        body = request.model_dump(mode="json", exclude_unset=True)
    else:
        body = dict(request)
    return {"task_id": task_id, "task": body, "metadata": meta}


def contract_problems(answer: Mapping[str, Any]) -> list[str]:
    """Where a `next` answer breaks the contract: one `path: expected, got` per problem."""
    problems: list[str] = []
    compile_model(Task).check(answer, "", problems)
    return problems
