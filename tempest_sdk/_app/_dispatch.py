"""`dispatch(app, task) -> report`: one task through validation, the handler and back.

Every outcome a task or a handler can cause is a report; only cancellation from the
caller (and BaseExceptions such as KeyboardInterrupt) propagates.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._secrets import (
    TaskSecrets,
    active_values,
    enter_task,
    leave_task,
    scrub,
    scrub_data,
)
from .._tracebacks import handler_traceback
from ..models import (
    ExecuteResourceActionRequest,
    ExecuteResourceOperationRequest,
    ListResourcesRequest,
    Resource,
    Task,
    TaskReport,
    describe_errors,
)
from ..models._reports import action_report, list_report, operation_report
from ..models._resources import TASK_RESOURCE
from ._context import Context
from ._errors import TaskError
from ._handlers import HandlerDefinition
from ._invoke import HandlerTimeout, call_arguments, invoke
from ._payloads import PropertiesSpec
from ._results import Page

if TYPE_CHECKING:
    import anyio

    from ._app import App
    from ._definition import TypeDefinition

__all__ = ["dispatch"]

_LOGGER = logging.getLogger("tempest_sdk.app")

_Request = ExecuteResourceOperationRequest | ExecuteResourceActionRequest | ListResourcesRequest


class _Failed(Exception):
    """Ends a task with an error report (internal control flow)."""

    def __init__(
        self, message: str, *, level: int = logging.WARNING, traceback: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.level = level
        #: The handler's trimmed traceback, logged at ERROR before the message.
        self.traceback = traceback


async def dispatch(
    app: App,
    task: Task,
    *,
    timeout: float | None,
    thread_limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    """Run `task` against `app` and return its report (see `App.dispatch`)."""
    # One coroutine around the handler's own: what comes before and after the call is
    # plain functions, since every coroutine level costs on every task.
    # getattr: even a Task built without validation (model_construct) gets a report.
    task_id = getattr(task, "task_id", "")
    if not isinstance(task_id, str):
        task_id = str(task_id)
    request: Any = getattr(task, "task", None)
    secrets = TaskSecrets(request)
    token = enter_task(secrets)
    known = getattr(request, "resource", None)
    known_token = TASK_RESOURCE.set(known if isinstance(known, Resource) else None)
    try:
        try:
            try:
                kind = request.request_type
                resource_type = app.definition.types.get(request.resource.type)
                if resource_type is None:
                    raise _Failed(_unknown_type(app, request.resource.type))
                if kind == "execute_resource_operation":
                    handler, values = _operation_call(app, resource_type, task, request, secrets)
                elif kind == "list_resources":
                    handler, values = _list_call(app, resource_type, task, request)
                elif kind == "execute_resource_action":
                    handler, values = _action_call(app, resource_type, task, request, secrets)
                else:
                    raise _Failed(
                        f"unknown request_type {kind!r}; this SDK runs execute_resource_operation, "
                        "execute_resource_action and list_resources tasks"
                    )
                if handler.timeout is not None:
                    timeout = handler.timeout
                try:
                    if handler.is_async and timeout is None and not handler.kwargs:
                        # The common case, straight: no thread, no cancel scope, no coroutine
                        # of ours between this one and the handler's.
                        result = await handler.fn(*handler.args(values))
                    else:
                        args, kwargs = call_arguments(handler, values)
                        result = await invoke(
                            handler, args, kwargs, timeout, thread_limiter, task_id=task_id
                        )
                except Exception as exc:
                    raise _handler_failed(handler, exc, request) from None
                if kind == "execute_resource_operation":
                    return _operation_report(resource_type, handler, task_id, request, result)
                if kind == "list_resources":
                    return _list_report(resource_type, handler, task_id, result)
                return _action_report(handler, task_id, result)
            except _Failed as failed:
                return _failed_report(app, task_id, request, secrets, failed)
        except Exception as exc:  # a bug of the SDK itself: still report, never raise
            secret_values = secrets.values()
            _LOGGER.error(
                "task %s: internal error in tempest_sdk\n%s",
                task_id,
                scrub("".join(traceback.format_exception(exc)), secret_values),
                extra=_task_fields(app, task_id, request),
            )
            return TaskReport.error(
                task_id,
                scrub(f"internal error in tempest_sdk: {type(exc).__name__}: {exc}", secret_values),
            )
    finally:
        TASK_RESOURCE.reset(known_token)
        leave_task(token)


def _failed_report(
    app: App, task_id: str, request: Any, secrets: TaskSecrets, failed: _Failed
) -> TaskReport:
    """The error report of a task that failed, logged once with its task's fields."""
    values = secrets.values()
    message = scrub(failed.message, values)
    fields = _task_fields(app, task_id, request)
    if failed.traceback is not None:
        _LOGGER.error(
            "task %s: %s\n%s", task_id, message, scrub(failed.traceback, values), extra=fields
        )
    else:
        _LOGGER.log(failed.level, "task %s: %s", task_id, message, extra=fields)
    return TaskReport.error(task_id, message)


def _task_fields(app: App, task_id: str, request: Any) -> dict[str, Any]:
    """The `extra=` fields of a record about a task, as the runner's records carry them."""
    kind = getattr(request, "request_type", None)
    name = getattr(request, "action", None) if kind == "execute_resource_action" else None
    operation = (
        getattr(request, "operation", None) if kind == "execute_resource_operation" else None
    )
    return {
        "app_id": app.app_id,
        "app_version": app.version,
        "task_id": task_id,
        "resource_type": getattr(getattr(request, "resource", None), "type", None),
        "operation": "list" if kind == "list_resources" else operation and str(operation),
        "action": name,
    }


def _unknown_type(app: App, name: object) -> str:
    known = ", ".join(repr(t) for t in app.definition.types) or "none"
    return (
        f"resource type {name!r} is not part of app {app.app_id} {app.version}; "
        f"its resource types: {known}"
    )


def _handler_failed(handler: HandlerDefinition, exc: Exception, request: Any) -> _Failed:
    """How the handler's call failed, as the task's failure."""
    if isinstance(exc, HandlerTimeout):
        return _Failed(f"{handler.what} {exc}", level=logging.ERROR)
    if isinstance(exc, TaskError):
        known = getattr(request, "resource", None)
        name = getattr(known, "type", "")
        external_id = getattr(known, "external_id", "")
        subject = f"{name} {external_id!r}" if external_id else name
        return _Failed(f"{handler.what} failed: {exc.describe(subject)}", level=logging.INFO)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    message = f"{handler.what} failed: {detail}"
    return _Failed(message, level=logging.ERROR, traceback=handler_traceback(exc))


class _Invalid(Exception):
    """The handler returned data that breaks the contract or the schema."""


def _finish(
    result: Any,
    name: str,
    known: Resource | None,
    properties: PropertiesSpec | None,
    index: int | None = None,
) -> Resource:
    """The returned resource, completed from the task and checked; or `_Invalid`.

    `properties` is the schema to check (None: no check, as for delete); `index` is
    the item's place in a listed page, for messages.
    """
    if isinstance(result, Resource):
        resource = result
    elif isinstance(result, Mapping):
        try:
            resource = Resource.model_validate(result)
        except ValidationError as exc:
            where = _where(index)
            raise _Invalid(f"{where}: not a valid resource: {describe_errors(exc)}") from None
    else:
        raise _Invalid(f"{_where(index)}: is a {type(result).__name__}, not a tempest.Resource")
    # Fill in what the task already knows, in a copy: the handler's object is its own
    # (it may be cached, or shared between tasks).
    updates: dict[str, Any] = {}
    if not resource.type:
        updates["type"] = name
    elif resource.type != name:
        where = _where(index)
        raise _Invalid(f"{where}.type: is {resource.type!r}, but the task is for {name!r}")
    if not resource.external_id:
        if known is not None and known.external_id:
            updates["external_id"] = known.external_id
        else:
            raise _Invalid(
                f"{_where(index)}.external_id: is empty; a resource needs the id it has in "
                "the external system"
            )
    if not resource.display_name and known is not None and known.display_name:
        updates["display_name"] = known.display_name
    if properties is not None:
        current = resource.properties
        fast = properties.schema.fast
        if fast is None or not fast(current if current is not None else {}):
            checked, problems = properties.check(current, f"{_where(index)}.properties")
            if problems:
                raise _Invalid("; ".join(problems))
            if checked is not current:
                updates["properties"] = checked
    return _copy_with(resource, updates) if updates else resource


def _copy_with(resource: Resource, updates: dict[str, Any]) -> Resource:
    """`resource.model_copy(update=updates)` for declared fields, at half its cost.

    Sets the instance state that `model_construct` sets; `model_copy` goes through
    `copy.copy` of each part, and this runs once per task.
    """
    copy = type(resource).__new__(type(resource))
    extra, private = resource.__pydantic_extra__, resource.__pydantic_private__
    object.__setattr__(copy, "__dict__", {**resource.__dict__, **updates})
    object.__setattr__(
        copy, "__pydantic_fields_set__", resource.__pydantic_fields_set__ | updates.keys()
    )
    object.__setattr__(copy, "__pydantic_extra__", None if extra is None else dict(extra))
    object.__setattr__(copy, "__pydantic_private__", None if private is None else dict(private))
    return copy


def _load_input(
    handler: HandlerDefinition, raw: dict[str, Any] | None, secrets: TaskSecrets
) -> Any:
    """The handler's input, defaults applied and validated; every problem at once."""
    spec = handler.input
    if spec is None:
        return None
    value, problems = spec.load(raw)
    if problems:
        message = f"invalid input for {handler.what}: " + "; ".join(problems)
        raise _Failed(message, level=logging.INFO)
    secrets.add_input(value)
    return value


def _values(
    app: App,
    task: Task,
    handler: HandlerDefinition,
    name: str,
    operation: str,
    action: str | None,
    resource: Resource | None,
    value: Any,
    cursor: str | None,
) -> _Values:
    """What the handler may be given: `(context, resource, input, cursor, state)`."""
    ctx = (
        Context._of_task(
            app,
            task.task_id,
            name,
            operation,
            action,
            task.metadata,
            getattr(task.task, "environment_variables", None),
        )
        if handler.wants_context
        else None
    )
    state = _state(app, handler) if handler.wants_state else None
    return (ctx, resource, value, cursor, state)


def _state(app: App, handler: HandlerDefinition) -> Any:
    """What the lifespan yielded, for a handler that takes it."""
    try:
        return app.state
    except LookupError as exc:
        raise _Failed(f"{handler.what} takes what the app's lifespan yields, but {exc}") from None


def _where(index: int | None) -> str:
    return "resource" if index is None else f"resources[{index}]"


_Values = tuple[Any, Any, Any, Any, Any]


def _operation_call(
    app: App,
    resource_type: TypeDefinition,
    task: Task,
    request: ExecuteResourceOperationRequest,
    secrets: TaskSecrets,
) -> tuple[HandlerDefinition, _Values]:
    operation = request.operation
    handler = resource_type.handlers.get(operation)
    known = request.resource
    name = known.type
    if handler is None or operation == "list" or operation == "health_check":
        raise _Failed(
            f"resource type {name!r} does not support {operation}; it supports: "
            f"{resource_type.supported()}"
        )
    if not known.external_id and operation != "create":
        raise _Failed(
            f"{handler.what} needs the resource's external_id, and the task's resource has none"
        )
    value = _load_input(handler, request.input, secrets)
    return handler, _values(app, task, handler, name, str(operation), None, known, value, None)


def _operation_report(
    resource_type: TypeDefinition,
    handler: HandlerDefinition,
    task_id: str,
    request: ExecuteResourceOperationRequest,
    result: Any,
) -> TaskReport:
    known = request.resource
    operation = request.operation
    if result is None and operation == "delete":
        resource = known
    else:
        properties = resource_type.spec.properties if operation != "delete" else None
        try:
            resource = _finish(result, known.type, known, properties)
        except _Invalid as exc:
            message = f"{handler.what} returned invalid data: {exc}"
            raise _Failed(message, level=logging.ERROR) from None
    return operation_report(task_id, resource)


def _list_call(
    app: App,
    resource_type: TypeDefinition,
    task: Task,
    request: ListResourcesRequest,
) -> tuple[HandlerDefinition, _Values]:
    name = resource_type.name
    handler = resource_type.handlers.get("list")
    if handler is None:
        raise _Failed(
            f"resource type {name!r} does not support list; "
            f"it supports: {resource_type.supported()}"
        )

    # A listed resource is a new one, not the request's: only its type is known.
    # (dispatch's reset of the variable undoes this too.)
    TASK_RESOURCE.set(Resource(type=name, external_id="", display_name=""))
    return handler, _values(app, task, handler, name, "list", None, None, None, request.next)


def _list_report(
    resource_type: TypeDefinition, handler: HandlerDefinition, task_id: str, result: Any
) -> TaskReport:
    name = resource_type.name
    try:
        if isinstance(result, Page):
            items, next_cursor = result.resources, result.next
        elif isinstance(result, Sequence) and not isinstance(result, str | bytes):
            items, next_cursor = result, ""
        else:
            raise _Invalid(f"is a {type(result).__name__}, not a tempest.Page")
        if not isinstance(next_cursor, str):
            raise _Invalid(f"next: is a {type(next_cursor).__name__}, not a str")
        if isinstance(items, str | bytes) or not isinstance(items, Sequence):
            raise _Invalid(f"resources: is a {type(items).__name__}, not a list")
        resources = []
        problems = []
        for index, item in enumerate(items):
            try:
                resources.append(_finish(item, name, None, resource_type.spec.properties, index))
            except _Invalid as exc:
                problems.append(str(exc))
        if problems:
            raise _Invalid("; ".join(problems))
    except _Invalid as exc:
        raise _Failed(f"{handler.what} returned invalid data: {exc}", level=logging.ERROR) from None
    return list_report(task_id, resources, next_cursor)


def _action_call(
    app: App,
    resource_type: TypeDefinition,
    task: Task,
    request: ExecuteResourceActionRequest,
    secrets: TaskSecrets,
) -> tuple[HandlerDefinition, _Values]:
    name = resource_type.name
    action = request.action
    handler = resource_type.actions.get(action)
    if handler is None:
        actions = ", ".join(repr(a) for a in resource_type.actions) or "none"
        raise _Failed(f"resource type {name!r} has no action {action!r}; its actions: {actions}")
    value = _load_input(handler, request.input, secrets)
    resource = request.resource
    return handler, _values(app, task, handler, name, "action", action, resource, value, None)


def _action_report(handler: HandlerDefinition, task_id: str, result: Any) -> TaskReport:
    if handler.output is None:  # pragma: no cover - every action gets an output spec
        raise _Failed(f"{handler.what} has no output schema")
    output, problems = handler.output.dump(result)
    # Outputs are masked too: an action that echoes its input or a variable must not
    # hand a secret to Tempest's UI.
    output = scrub_data(output, active_values())
    if problems or output is None:
        raise _Failed(
            f"{handler.what} returned invalid data: " + "; ".join(problems), level=logging.ERROR
        )
    return action_report(task_id, output)
