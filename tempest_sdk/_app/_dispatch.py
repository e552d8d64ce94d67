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
    ExecuteResourceActionResponse,
    ExecuteResourceOperationRequest,
    ExecuteResourceOperationResponse,
    ListResourcesRequest,
    ListResourcesResponse,
    Resource,
    Task,
    TaskReport,
    describe_errors,
)
from ._context import Context
from ._errors import TaskError
from ._handlers import HandlerDefinition
from ._invoke import HandlerTimeout, call_arguments, invoke
from ._results import Page
from ._scrub import scrub, sensitive_values

if TYPE_CHECKING:
    import anyio

    from ._app import App
    from ._resource import ResourceType

__all__ = ["dispatch"]

_LOGGER = logging.getLogger("tempest_sdk.app")

_Request = ExecuteResourceOperationRequest | ExecuteResourceActionRequest | ListResourcesRequest


class _Failed(Exception):
    """Ends a task with an error report (internal control flow)."""

    def __init__(self, message: str, *, level: int = logging.WARNING) -> None:
        super().__init__(message)
        self.message = message
        self.level = level


async def dispatch(
    app: App,
    task: Task,
    *,
    timeout: float | None,
    thread_limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    """Run `task` against `app` and return its report (see `App.dispatch`)."""
    task_id = task.task_id if isinstance(task.task_id, str) else str(task.task_id)
    request: Any = task.task
    try:
        try:
            kind = request.request_type
            name = request.resource.type
            resource_type = app._types.get(name)
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
            message = scrub(failed.message, _secrets(request))
            _LOGGER.log(failed.level, "task %s: %s", task_id, message, extra={"task_id": task_id})
            return TaskReport.error(task_id, message)
    except Exception as exc:  # a bug of the SDK itself: still report, never raise
        secrets = _secrets(request)
        _LOGGER.error(
            "task %s: internal error in tempest_sdk\n%s",
            task_id,
            scrub("".join(traceback.format_exception(exc)), secrets),
            extra={"task_id": task_id},
        )
        return TaskReport.error(
            task_id,
            scrub(f"internal error in tempest_sdk: {type(exc).__name__}: {exc}", secrets),
        )


def _secrets(request: Any) -> tuple[str, ...]:
    try:
        return sensitive_values(getattr(request, "environment_variables", None))
    except Exception:  # a malformed variable: mask nothing rather than fail the report
        return ()


def _unknown_type(app: App, name: object) -> str:
    known = ", ".join(repr(t) for t in app._types) or "none"
    return (
        f"resource type {name!r} is not part of app {app.app_id} {app.version}; "
        f"its resource types: {known}"
    )


def _timeout(
    handler: HandlerDefinition, resource_type: ResourceType, default: float | None
) -> float | None:
    if handler.timeout is not None:
        return handler.timeout
    if resource_type._spec.timeout is not None:
        return resource_type._spec.timeout
    return default


def _context(
    app: App, task_id: str, task: Task, request: Any, operation: str, action: str | None = None
) -> Context:
    return Context(
        task_id=task_id,
        app_id=app.app_id,
        version=app.version,
        resource_type=request.resource.type,
        operation=operation,
        action=action,
        metadata=task.metadata,
        environment_variables=getattr(request, "environment_variables", None),
    )


async def _call(
    handler: HandlerDefinition,
    what: str,
    subject: str,
    values: tuple[Any, Any, Any, Any],
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
    request: Any,
    task_id: str,
) -> Any:
    args, kwargs = call_arguments(handler, values)
    try:
        if handler.is_async and timeout is None:
            # The common case, without the detour through `invoke`.
            return await handler.fn(*args, **kwargs)
        return await invoke(handler, args, kwargs, timeout, limiter)
    except HandlerTimeout as exc:
        raise _Failed(f"{what} {exc}", level=logging.ERROR) from None
    except TaskError as exc:
        raise _Failed(f"{what} failed: {exc.describe(subject)}", level=logging.INFO) from None
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _LOGGER.error(
            "task %s: %s raised\n%s",
            task_id,
            what,
            scrub("".join(traceback.format_exception(exc)), _secrets(request)),
            extra={"task_id": task_id},
        )
        raise _Failed(f"{what} failed: {detail}", level=logging.DEBUG) from None


def _finish(
    result: Any,
    *,
    name: str,
    known: Resource | None,
    resource_type: ResourceType,
    validate: bool,
    where: str,
) -> Resource:
    """The returned resource, completed from the task, checked; or `_Failed`."""
    if isinstance(result, Resource):
        resource = result
    elif isinstance(result, Mapping):
        try:
            resource = Resource.model_validate(result)
        except ValidationError as exc:
            raise _Invalid(f"{where}: not a valid resource: {describe_errors(exc)}") from None
    else:
        raise _Invalid(f"{where}: is a {type(result).__name__}, not a tempest.Resource")
    # Fill in what the task already knows; the handler's object is completed in place.
    if not resource.type:
        resource.type = name
    elif resource.type != name:
        raise _Invalid(f"{where}.type: is {resource.type!r}, but the task is for {name!r}")
    if not resource.external_id:
        if known is not None and known.external_id:
            resource.external_id = known.external_id
        else:
            raise _Invalid(
                f"{where}.external_id: is empty; a resource needs the id it has in the "
                "external system"
            )
    if not resource.display_name and known is not None and known.display_name:
        resource.display_name = known.display_name
    if validate and resource_type._spec.properties is not None:
        properties, problems = resource_type._spec.properties.check(
            resource.properties, f"{where}.properties"
        )
        if problems:
            raise _Invalid("; ".join(problems))
        if properties is not resource.properties:
            resource.properties = properties
    return resource


class _Invalid(Exception):
    """The handler returned data that breaks the contract or the schema."""


async def _operation(
    app: App,
    resource_type: ResourceType,
    task_id: str,
    task: Task,
    request: ExecuteResourceOperationRequest,
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    operation = str(request.operation)
    name = resource_type.type
    handler = resource_type._handlers.get(operation)
    if handler is None or operation == "list" or operation == "health_check":
        raise _Failed(
            f"resource type {name!r} does not support {operation}; it supports: "
            f"{resource_type.supported()}"
        )
    what = f"{operation} of {name!r}"
    known = request.resource
    if operation != "create" and not known.external_id:
        raise _Failed(f"{what} needs the resource's external_id, and the task's resource has none")
    value = None
    if handler.input is not None:
        value, problems = handler.input.load(request.input)
        if problems:
            raise _Failed(f"invalid input for {what}: " + "; ".join(problems), level=logging.INFO)
    ctx = _context(app, task_id, task, request, operation) if handler.wants_context else None
    result = await _call(
        handler,
        what,
        f"{name} {known.external_id!r}" if known.external_id else name,
        (ctx, known, value, None),
        _timeout(handler, resource_type, timeout),
        limiter,
        request,
        task_id,
    )
    if operation == "delete" and result is None:
        resource = known
    else:
        try:
            resource = _finish(
                result,
                name=name,
                known=known,
                resource_type=resource_type,
                validate=operation != "delete",
                where="resource",
            )
        except _Invalid as exc:
            raise _Failed(f"{what} returned invalid data: {exc}", level=logging.ERROR) from None
    return TaskReport.ok(task_id, ExecuteResourceOperationResponse(resource=resource))


async def _list(
    app: App,
    resource_type: ResourceType,
    task_id: str,
    task: Task,
    request: ListResourcesRequest,
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    name = resource_type.type
    handler = resource_type._handlers.get("list")
    if handler is None:
        raise _Failed(
            f"resource type {name!r} does not support list; "
            f"it supports: {resource_type.supported()}"
        )
    what = f"list of {name!r}"
    ctx = _context(app, task_id, task, request, "list") if handler.wants_context else None
    result = await _call(
        handler,
        what,
        name,
        (ctx, None, None, request.next),
        _timeout(handler, resource_type, timeout),
        limiter,
        request,
        task_id,
    )
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
                resources.append(
                    _finish(
                        item,
                        name=name,
                        known=None,
                        resource_type=resource_type,
                        validate=True,
                        where=f"resources[{index}]",
                    )
                )
            except _Invalid as exc:
                problems.append(str(exc))
        if problems:
            raise _Invalid("; ".join(problems))
    except _Invalid as exc:
        raise _Failed(f"{what} returned invalid data: {exc}", level=logging.ERROR) from None
    return TaskReport.ok(task_id, ListResourcesResponse(resources=resources, next=next_cursor))


async def _action(
    app: App,
    resource_type: ResourceType,
    task_id: str,
    task: Task,
    request: ExecuteResourceActionRequest,
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    name = resource_type.type
    action = request.action
    handler = resource_type._actions.get(action)
    if handler is None:
        actions = ", ".join(repr(a) for a in resource_type._actions) or "none"
        raise _Failed(f"resource type {name!r} has no action {action!r}; its actions: {actions}")
    what = f"action {action!r} of {name!r}"
    value = None
    if handler.input is not None:
        value, problems = handler.input.load(request.input)
        if problems:
            raise _Failed(f"invalid input for {what}: " + "; ".join(problems), level=logging.INFO)
    ctx = _context(app, task_id, task, request, "action", action) if handler.wants_context else None
    known = request.resource
    result = await _call(
        handler,
        what,
        f"{name} {known.external_id!r}" if known.external_id else name,
        (ctx, known, value, None),
        _timeout(handler, resource_type, timeout),
        limiter,
        request,
        task_id,
    )
    if handler.output is None:  # pragma: no cover - every action gets an output spec
        raise _Failed(f"{what} has no output schema")
    output, problems = handler.output.dump(result)
    if problems or output is None:
        raise _Failed(f"{what} returned invalid data: " + "; ".join(problems), level=logging.ERROR)
    return TaskReport.ok(task_id, ExecuteResourceActionResponse(output=output))
