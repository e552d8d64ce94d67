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
from ._context import Context
from ._errors import TaskError
from ._handlers import HandlerDefinition
from ._invoke import HandlerTimeout, call_arguments, invoke
from ._payloads import PropertiesSpec
from ._results import Page
from ._scrub import (
    TaskSecrets,
    active_values,
    current_task_secrets,
    enter_task,
    leave_task,
    scrub,
    scrub_data,
)
from ._tracebacks import handler_traceback

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
    # getattr: even a Task built without validation (model_construct) gets a report.
    task_id = getattr(task, "task_id", "")
    if not isinstance(task_id, str):
        task_id = str(task_id)
    request: Any = getattr(task, "task", None)
    secrets = TaskSecrets(request)
    token = enter_task(secrets)
    try:
        return await _dispatch_task(app, task, task_id, request, secrets, timeout, thread_limiter)
    finally:
        leave_task(token)


async def _dispatch_task(
    app: App,
    task: Task,
    task_id: str,
    request: Any,
    secrets: TaskSecrets,
    timeout: float | None,
    thread_limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    try:
        try:
            kind = request.request_type
            name = request.resource.type
            resource_type = app.definition.types.get(name)
            if resource_type is None:
                raise _Failed(_unknown_type(app, name))
            if kind == "execute_resource_operation":
                return await _operation(
                    app, resource_type, task_id, task, request, timeout, thread_limiter
                )
            if kind == "list_resources":
                return await _list(
                    app, resource_type, task_id, task, request, timeout, thread_limiter
                )
            if kind == "execute_resource_action":
                return await _action(
                    app, resource_type, task_id, task, request, timeout, thread_limiter
                )
            raise _Failed(
                f"unknown request_type {kind!r}; this SDK runs execute_resource_operation, "
                "execute_resource_action and list_resources tasks"
            )
        except _Failed as failed:
            values = secrets.values()
            message = scrub(failed.message, values)
            fields = _task_fields(app, task_id, request)
            if failed.traceback is not None:
                _LOGGER.error(
                    "task %s: %s\n%s",
                    task_id,
                    message,
                    scrub(failed.traceback, values),
                    extra=fields,
                )
            else:
                _LOGGER.log(failed.level, "task %s: %s", task_id, message, extra=fields)
            return TaskReport.error(task_id, message)
    except Exception as exc:  # a bug of the SDK itself: still report, never raise
        values = secrets.values()
        _LOGGER.error(
            "task %s: internal error in tempest_sdk\n%s",
            task_id,
            scrub("".join(traceback.format_exception(exc)), values),
            extra=_task_fields(app, task_id, request),
        )
        return TaskReport.error(
            task_id,
            scrub(f"internal error in tempest_sdk: {type(exc).__name__}: {exc}", values),
        )


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


async def _call(
    handler: HandlerDefinition,
    values: tuple[Any, Any, Any, Any, Any],
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
    request: Any,
    task_id: str,
) -> Any:
    """The handler's result, or `_Failed` saying how it failed."""
    if handler.timeout is not None:
        timeout = handler.timeout
    try:
        if handler.is_async and timeout is None and not handler.kwargs:
            # The common case, straight: no thread, no cancel scope, no extra coroutine.
            return await handler.fn(*handler.args(values))
        args, kwargs = call_arguments(handler, values)
        return await invoke(handler, args, kwargs, timeout, limiter, task_id=task_id)
    except HandlerTimeout as exc:
        raise _Failed(f"{handler.what} {exc}", level=logging.ERROR) from None
    except TaskError as exc:
        known = getattr(request, "resource", None)
        name = getattr(known, "type", "")
        external_id = getattr(known, "external_id", "")
        subject = f"{name} {external_id!r}" if external_id else name
        message = f"{handler.what} failed: {exc.describe(subject)}"
        raise _Failed(message, level=logging.INFO) from None
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        message = f"{handler.what} failed: {detail}"
        raise _Failed(message, level=logging.ERROR, traceback=handler_traceback(exc)) from None


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


def _load_input(handler: HandlerDefinition, raw: dict[str, Any] | None) -> Any:
    """The handler's input, defaults applied and validated; every problem at once."""
    if handler.input is None:
        return None
    value, problems = handler.input.load(raw)
    if not problems:
        secrets = current_task_secrets()
        if secrets is not None:
            secrets.add_input(value)
    if problems:
        raise _Failed(
            f"invalid input for {handler.what}: " + "; ".join(problems), level=logging.INFO
        )
    return value


def _state(app: App, handler: HandlerDefinition) -> Any:
    """What the lifespan yielded, for a handler that takes it."""
    if not handler.wants_state:
        return None
    try:
        return app.state
    except LookupError as exc:
        raise _Failed(f"{handler.what} takes what the app's lifespan yields, but {exc}") from None


def _context(
    app: App,
    task: Task,
    handler: HandlerDefinition,
    name: str,
    operation: str,
    action: str | None,
) -> Context | None:
    if not handler.wants_context:
        return None
    request = task.task
    return Context._of_task(
        app,
        task.task_id,
        name,
        operation,
        action,
        task.metadata,
        getattr(request, "environment_variables", None),
    )


def _where(index: int | None) -> str:
    return "resource" if index is None else f"resources[{index}]"


async def _operation(
    app: App,
    resource_type: TypeDefinition,
    task_id: str,
    task: Task,
    request: ExecuteResourceOperationRequest,
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
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
    value = _load_input(handler, request.input)
    ctx = _context(app, task, handler, name, str(operation), None)
    values = (ctx, known, value, None, _state(app, handler))
    result = await _call(handler, values, timeout, limiter, request, task_id)
    if result is None and operation == "delete":
        resource = known
    else:
        properties = resource_type.spec.properties if operation != "delete" else None
        try:
            resource = _finish(result, name, known, properties)
        except _Invalid as exc:
            message = f"{handler.what} returned invalid data: {exc}"
            raise _Failed(message, level=logging.ERROR) from None
    return operation_report(task_id, resource)


async def _list(
    app: App,
    resource_type: TypeDefinition,
    task_id: str,
    task: Task,
    request: ListResourcesRequest,
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    name = resource_type.name
    handler = resource_type.handlers.get("list")
    if handler is None:
        raise _Failed(
            f"resource type {name!r} does not support list; "
            f"it supports: {resource_type.supported()}"
        )
    ctx = (
        Context._of_task(app, task_id, name, "list", None, task.metadata, None)
        if handler.wants_context
        else None
    )
    values = (ctx, None, None, request.next, _state(app, handler))
    result = await _call(handler, values, timeout, limiter, request, task_id)
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


async def _action(
    app: App,
    resource_type: TypeDefinition,
    task_id: str,
    task: Task,
    request: ExecuteResourceActionRequest,
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    name = resource_type.name
    action = request.action
    handler = resource_type.actions.get(action)
    if handler is None:
        actions = ", ".join(repr(a) for a in resource_type.actions) or "none"
        raise _Failed(f"resource type {name!r} has no action {action!r}; its actions: {actions}")
    value = _load_input(handler, request.input)
    ctx = _context(app, task, handler, name, "action", action)
    values = (ctx, request.resource, value, None, _state(app, handler))
    result = await _call(handler, values, timeout, limiter, request, task_id)
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
