"""Tasks: what `apps.operations.next` hands an app, and how to read them safely."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_serializer

from .._errors import TempestError
from ._base import WIRE_CONTEXT, WireModel
from ._enums import EnvironmentVariableType, Operation, OwnerType
from ._resources import Resource

_MASK = "**********"


class Owner(WireModel):
    """A user or team that owns a project, or authored a task."""

    email: str
    name: str
    type: OwnerType


class TaskMetadata(WireModel):
    """Who asked for a task, and in which project."""

    owners: list[Owner]
    author: Owner
    project_id: str
    project_name: str


class EnvironmentVariable(WireModel):
    """A project environment variable handed to a task.

    Values of every type but `variable` are sensitive: they are masked in `repr`,
    `str` and every serialization except the wire one, and read with `reveal()`.
    """

    name: str
    value: SecretStr
    type: EnvironmentVariableType

    @property
    def is_sensitive(self) -> bool:
        """Whether this value must never reach a log, a repr or a report."""
        return self.type.is_sensitive

    def reveal(self) -> str:
        """Return the value in clear. Do this on purpose, never to log it."""
        return self.value.get_secret_value()

    @field_serializer("value", when_used="json")
    def _serialize_value(self, value: SecretStr) -> str:
        return value.get_secret_value()

    def __repr_args__(self) -> Any:
        shown = _MASK if self.is_sensitive else self.reveal()
        yield "name", self.name
        yield "value", shown
        yield "type", self.type


class ExecuteResourceOperationRequest(WireModel):
    """A create, read, update or delete of one resource."""

    request_type: Literal["execute_resource_operation"] = "execute_resource_operation"
    resource: Resource
    operation: Operation
    input: dict[str, Any] | None = None
    environment_variables: list[EnvironmentVariable] | None = None
    metadata: dict[str, Any] | None = None


class ExecuteResourceActionRequest(WireModel):
    """A named action run against one resource."""

    request_type: Literal["execute_resource_action"] = "execute_resource_action"
    resource: Resource
    action: str
    input: dict[str, Any] | None = None
    environment_variables: list[EnvironmentVariable] | None = None
    metadata: dict[str, Any] | None = None


class ListResourcesRequest(WireModel):
    """One page of a listing of a resource type; `next` is `""` on the first page."""

    request_type: Literal["list_resources"] = "list_resources"
    resource: Resource
    next: str
    metadata: dict[str, Any] | None = None


TaskRequest = Annotated[
    ExecuteResourceOperationRequest | ExecuteResourceActionRequest | ListResourcesRequest,
    Field(discriminator="request_type"),
]
"""The three kinds of task, discriminated by `request_type`."""


class Task(WireModel):
    """A unit of work from `apps.operations.next` (contract: `NextResponse`)."""

    task_id: str
    task: TaskRequest
    metadata: TaskMetadata

    @property
    def subject(self) -> TaskSubject:
        """What the task is about: its kind, resource type, operation or action."""
        return subject_of(self.task)


TaskKind = Literal["operation", "action", "list"]
"""The three kinds of task, as the SDK names them in logs, hooks and metrics."""


@dataclass(frozen=True, slots=True)
class TaskSubject:
    """What a task is about, never its input or environment (safe to log and label).

    Attributes:
        kind: `"operation"`, `"action"` or `"list"`.
        resource_type: the resource type the task addresses.
        name: the operation (`create`, `read`, `update`, `delete`), the action's
            name, or `"list"`.
    """

    kind: TaskKind
    resource_type: str
    name: str

    @property
    def operation(self) -> str | None:
        """`create`, `read`, `update`, `delete` or `list`; None for an action."""
        return None if self.kind == "action" else self.name

    @property
    def action(self) -> str | None:
        """The action's name in an action task, else None."""
        return self.name if self.kind == "action" else None

    def describe(self) -> str:
        """The task in words: `create example`, `action rebuild on example`, `list example`."""
        if self.kind == "action":
            return f"action {self.name} on {self.resource_type}"
        return f"{self.name} {self.resource_type}"


def subject_of(request: object) -> TaskSubject:
    """The subject of a task's request: the one place that tells the kinds apart.

    Raises:
        TypeError: `request` is none of the three kinds.
    """
    match request:
        case ExecuteResourceOperationRequest(resource=resource, operation=operation):
            return TaskSubject("operation", resource.type, str(operation))
        case ExecuteResourceActionRequest(resource=resource, action=action):
            return TaskSubject("action", resource.type, action)
        case ListResourcesRequest(resource=resource):
            return TaskSubject("list", resource.type, "list")
    raise TypeError(f"not a task request: {type(request).__name__}")


class MalformedTaskError(TempestError):
    """A `next` answer that is not a valid task.

    `task_id` is set whenever the answer names one, so the task can still be reported.
    `sensitive` holds the values of the answer's sensitive environment variables, as
    far as they could be read: whoever writes the message out masks them (the runner
    does).
    """

    def __init__(
        self, message: str, *, task_id: str | None = None, sensitive: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.sensitive = sensitive

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task_id={self.task_id!r})"


class UnknownTaskTypeError(MalformedTaskError):
    """A task whose `request_type` this SDK does not know (a newer control plane)."""

    def __init__(
        self, request_type: object, *, task_id: str | None, sensitive: tuple[str, ...] = ()
    ) -> None:
        super().__init__(
            f"task {task_id!r} has request_type {request_type!r}; this SDK handles "
            "'execute_resource_operation', 'execute_resource_action' and 'list_resources'",
            task_id=task_id,
            sensitive=sensitive,
        )
        self.request_type = request_type


def parse_task(data: bytes | str | dict[str, Any]) -> Task:
    """Read a `next` answer into a `Task`.

    Raises:
        UnknownTaskTypeError: the task's `request_type` is not a known kind.
        MalformedTaskError: anything else is wrong; the message lists every problem
            with its field path (never the offending values, which may be secrets).
    """
    try:
        task: Task
        if isinstance(data, dict):
            # The model's own validator (TypeAdapter's methods add a Python frame per task),
            # looked up on use: the model is built on first use (`defer_build`).
            task = Task.__pydantic_validator__.validate_python(data, context=WIRE_CONTEXT)
        else:
            task = Task.__pydantic_validator__.validate_json(data, context=WIRE_CONTEXT)
        return task
    except ValidationError as exc:
        raw = _loose_json(data)
        task_id = raw.get("task_id") if isinstance(raw.get("task_id"), str) else None
        for error in exc.errors(include_input=False):
            if error["type"] == "union_tag_invalid" and error["loc"] == ("task",):
                inner = raw.get("task")
                request_type = inner.get("request_type") if isinstance(inner, dict) else None
                raise UnknownTaskTypeError(
                    request_type, task_id=task_id, sensitive=_sensitive(raw)
                ) from None
        raise MalformedTaskError(
            f"malformed task{f' {task_id!r}' if task_id else ''}: {describe_errors(exc)}",
            task_id=task_id,
            sensitive=_sensitive(raw),
        ) from None
    except Exception as exc:
        # A limit or a bug of the parser rather than a bad field: the task is still
        # one to report as failed, when its id can be found.
        raw = _loose_json(data)
        task_id = raw.get("task_id") if isinstance(raw.get("task_id"), str) else None
        raise MalformedTaskError(
            f"task{f' {task_id!r}' if task_id else ''} could not be read: {type(exc).__name__}",
            task_id=task_id,
            sensitive=_sensitive(raw),
        ) from None


def describe_errors(exc: ValidationError) -> str:
    """Summarise validation errors as `path: reason` pairs, without input values."""
    parts = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "(root)"
        given = error.get("input")
        if (
            error["loc"][-1:] == ("operation",)
            and error["type"] == "enum"
            and isinstance(given, str)
        ):
            # The one value named: which operation this SDK does not know (as Go's
            # toolkit says); secrets masked by whoever writes the message out.
            parts.append(f"{path}: unknown operation {given!r}; {error['msg'].lower()}")
        else:
            parts.append(f"{path}: {error['msg']}")
    return "; ".join(parts)


def _sensitive(raw: dict[str, Any]) -> tuple[str, ...]:
    """The values of the sensitive environment variables of an unreadable task, read
    leniently (a value's type unknown or missing counts as sensitive)."""
    request = raw.get("task")
    variables = request.get("environment_variables") if isinstance(request, dict) else None
    if not isinstance(variables, list):
        return ()
    return tuple(
        variable["value"]
        for variable in variables
        if isinstance(variable, dict)
        and isinstance(variable.get("value"), str)
        and variable.get("type") != "variable"
        and variable["value"].strip()
    )


def _loose_json(data: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    try:
        loaded = json.loads(data)
    except RecursionError:
        # Nested deeper than Python's json module goes (an input ~1,000 levels deep):
        # the task id still sits at the top, where a flat scan finds it.
        return _top_level_task_id(data)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


# A JSON string, or one of the characters that shape the document.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]:]')


def _top_level_task_id(data: bytes | str) -> dict[str, Any]:
    """`{"task_id": ...}` read from the top level of a JSON object without building the
    nested values, or `{}`; a lone string token at a time is all it decodes."""
    raw = data.encode() if isinstance(data, str) else data
    depth = 0
    key: bytes | None = None
    previous = b""
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"{", b"["):
            depth += 1
        elif token in (b"}", b"]"):
            depth -= 1
        elif depth == 1 and token.startswith(b'"'):
            if previous == b":" and key == b'"task_id"':
                value = json.loads(token)
                return {"task_id": value} if isinstance(value, str) else {}
            key = token if previous != b":" else None
        previous = token
    return {}
