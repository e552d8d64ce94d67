"""`dispatch(runtime, task) -> report`: one task through validation, the handler and back.

Every outcome a task or a handler can cause is a report; only cancellation from the
caller (and BaseExceptions such as KeyboardInterrupt) propagates.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._logfields import task_fields
from .._secrets import TaskSecrets, current_task_secrets, enter_task, leave_task
from .._tracebacks import handler_traceback
from ..models import (
    ExecuteResourceActionRequest,
    ExecuteResourceOperationRequest,
    ListResourcesRequest,
    Resource,
    Task,
    TaskReport,
    TaskSubject,
    describe_errors,
    subject_of,
)
from ._context import Context
from ._errors import TaskError
from ._handlers import HandlerDefinition
from ._invoke import HandlerTimeout, call_arguments, invoke
from ._payloads import PropertiesSpec
from ._results import Page

if TYPE_CHECKING:
    import anyio

    from ._definition import TypeDefinition
    from ._runtime import AppRuntime

__all__ = ["dispatch"]

_LOGGER = logging.getLogger("tempest_sdk.app")


class _Failed(Exception):
    """Ends a task with an error report (internal control flow)."""

    def __init__(
        self,
        message: str,
        *,
        level: int = logging.WARNING,
        error: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.level = level
        #: The handler's exception, logged with its trimmed traceback.
        self.error = error


async def dispatch(
    runtime: AppRuntime,
    task: Task,
    *,
    timeout: float | None,
    thread_limiter: anyio.CapacityLimiter | None,
) -> TaskReport:
    """Run `task` against the app's `runtime` and return its report (see `App.dispatch`)."""
    # getattr: even a Task built without validation (model_construct) gets a report.
    task_id = getattr(task, "task_id", "")
    if not isinstance(task_id, str):
        task_id = str(task_id)
    request: object = getattr(task, "task", None)
    # Inside the runner's hold of the same task its secrets are already masked
    # everywhere: what dispatch learns (the input's secrets, `ctx.mask`) goes there.
    secrets = current_task_secrets()
    token = None
    if secrets is None or not secrets.holds(request):
        secrets = TaskSecrets(request)
        token = enter_task(secrets)
    subject: TaskSubject | None = None
    try:
        try:
            try:
                subject = subject_of(request)
            except TypeError:
                kind = getattr(request, "request_type", None)
                raise _Failed(
                    f"unknown request_type {kind!r}; this SDK runs execute_resource_operation, "
                    "execute_resource_action and list_resources tasks"
                ) from None
            call = _Call(runtime, task, task_id, subject, secrets)
            handler, values, finish = call.prepare(request)
            result = await _run(handler, values, timeout, thread_limiter, subject, task_id)
            return _masked(finish(result), secrets)
        except _Failed as failed:
            return _failed_report(runtime, task_id, subject, secrets, failed)
    except Exception as exc:  # a bug of the SDK itself: still report, never raise
        _LOGGER.error(
            "task %s: internal error in tempest_sdk\n%s",
            secrets.mask(task_id),
            secrets.mask("".join(traceback.format_exception(exc))),
            extra=secrets.mask_data(task_fields(runtime.app_id, runtime.version, task_id, subject)),
        )
        return TaskReport.error(
            task_id,
            secrets.mask(f"internal error in tempest_sdk: {type(exc).__name__}: {exc}"),
        )
    finally:
        if token is not None:
            leave_task(token)


def _masked(report: TaskReport, secrets: TaskSecrets) -> TaskReport:
    """The report with the task's and the process's secrets masked in its result
    (properties, a listed page, an action's output, ids and names alike): a handler
    that echoes a variable or a settings value must not hand it to Tempest's UI."""
    if not secrets.maskers():
        return report
    # One pass over the report as sent finds every form of every secret in any of
    # its strings (JSON-escaped ones in their escaped form): the common case, nothing
    # found, costs that pass alone, not one per string.
    text = report.to_json().decode()
    if secrets.mask(text) == text:
        return report
    data = report.to_wire()
    masked = secrets.mask_data(data)
    if masked is data:
        return report
    masked["task_id"] = report.task_id  # Tempest's own id: the report must find its task
    return TaskReport.from_wire(masked)


async def _run(
    handler: HandlerDefinition,
    values: _Values,
    timeout: float | None,
    thread_limiter: anyio.CapacityLimiter | None,
    subject: TaskSubject,
    task_id: str = "",
) -> Any:
    """Call the handler under its timeout (its own, else its type's, else `timeout`)."""
    if handler.timeout is not None:
        timeout = handler.timeout
    try:
        if handler.is_async and timeout is None and not handler.kwargs:
            # An async handler without a timeout is awaited right here: no thread, no
            # cancel scope, no coroutine of ours between this one and the handler's.
            return await handler.fn(*handler.args(values))
        args, kwargs = call_arguments(handler, values)
        return await invoke(handler, args, kwargs, timeout, thread_limiter, task_id=task_id)
    except Exception as exc:
        raise _handler_failed(handler, exc, subject, values[1]) from None


def _failed_report(
    runtime: AppRuntime,
    task_id: str,
    subject: TaskSubject | None,
    secrets: TaskSecrets,
    failed: _Failed,
) -> TaskReport:
    """The error report of a task that failed, logged once with its task's fields."""
    message = secrets.mask(failed.message)
    # A hostile task may carry a secret as its type, action or id: masked as well.
    fields = secrets.mask_data(task_fields(runtime.app_id, runtime.version, task_id, subject))
    error = failed.error
    if error is None:
        _LOGGER.log(
            failed.level, "task %s: %s", fields.get("task_id", task_id), message, extra=fields
        )
    elif _LOGGER.isEnabledFor(logging.ERROR):
        # The traceback goes with the record as its exception text (a formatter writes
        # it where it writes exceptions: after a text line, as JSON's `exception`),
        # trimmed and masked. Not as `exc_info`: the exception object itself may hold
        # a secret in its arguments, and a handler would send it on as it is.
        record = _LOGGER.makeRecord(
            _LOGGER.name,
            logging.ERROR,
            __file__,
            0,
            "task %s: %s",
            (fields.get("task_id", task_id), message),
            None,
            extra=fields,
        )
        record.exc_text = secrets.mask(handler_traceback(error).rstrip("\n"))
        _LOGGER.handle(record)
    return TaskReport.error(task_id, message)


def _handler_failed(
    handler: HandlerDefinition, exc: Exception, subject: TaskSubject, known: Resource | None
) -> _Failed:
    """How the handler's call failed, as the task's failure (`known`: the task's resource)."""
    if isinstance(exc, HandlerTimeout):
        return _Failed(f"{handler.what} {exc}", level=logging.ERROR)
    if isinstance(exc, TaskError):
        external_id = known.external_id if known is not None else ""
        name = subject.resource_type
        what = f"{name} {external_id!r}" if external_id else name
        return _Failed(f"{handler.what} failed: {exc.describe(what)}", level=logging.INFO)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    message = f"{handler.what} failed: {detail}"
    return _Failed(message, level=logging.ERROR, error=exc)


_Values = tuple[Any, Any, Any, Any, Any]
"""What a handler may be given: `(context, resource, input, cursor, state)`."""

Finish = Callable[[Any], TaskReport]
"""Turns the handler's result into the task's report (or raises `_Failed`)."""


@dataclass(slots=True)
class _Call:
    """One task's way to its handler and back: the one place that tells kinds apart."""

    runtime: AppRuntime
    task: Task
    task_id: str
    subject: TaskSubject
    secrets: TaskSecrets

    def prepare(self, request: object) -> tuple[HandlerDefinition, _Values, Finish]:
        """The handler, its arguments, and how its result becomes the report."""
        definition = self.runtime.definition
        name = self.subject.resource_type
        resource_type = definition.types.get(name)
        if resource_type is None:
            raise _Failed(
                f"resource type {name!r} is not part of app {definition.app_id} "
                f"{definition.version}; its resource types: {_listed(definition.types)}"
            )
        match request:
            case ExecuteResourceOperationRequest():
                return self._operation(resource_type, request)
            case ListResourcesRequest():
                return self._list(resource_type, request)
            case ExecuteResourceActionRequest():
                return self._action(resource_type, request)
        raise AssertionError(f"no way to run {type(request).__name__}")  # subject_of refused it

    def _operation(
        self, resource_type: TypeDefinition, request: ExecuteResourceOperationRequest
    ) -> tuple[HandlerDefinition, _Values, Finish]:
        operation = str(request.operation)
        handler = resource_type.handlers.get(operation)
        known = request.resource
        name = known.type
        if handler is None or operation in ("list", "health_check"):
            raise _Failed(
                f"resource type {name!r} does not support {operation}; it supports: "
                f"{resource_type.supported()}"
            )
        if not known.external_id and operation != "create":
            raise _Failed(
                f"{handler.what} needs the resource's external_id, and the task's resource has none"
            )
        value = self._input(handler, request.input)
        values = self._values(handler, request, known, value, None)
        properties = resource_type.spec.properties if operation != "delete" else None

        def finish(result: Any) -> TaskReport:
            if result is None and operation == "delete":
                return TaskReport.of_resource(self.task_id, known)
            try:
                resource = _finish(result, name, known, properties)
            except _Invalid as exc:
                message = f"{handler.what} returned invalid data: {exc}"
                raise _Failed(message, level=logging.ERROR) from None
            return TaskReport.of_resource(self.task_id, resource)

        return handler, values, finish

    def _list(
        self, resource_type: TypeDefinition, request: ListResourcesRequest
    ) -> tuple[HandlerDefinition, _Values, Finish]:
        name = resource_type.name
        handler = resource_type.handlers.get("list")
        if handler is None:
            raise _Failed(
                f"resource type {name!r} does not support list; "
                f"it supports: {resource_type.supported()}"
            )
        values = self._values(handler, request, None, None, request.next)
        properties = resource_type.spec.properties

        def finish(result: Any) -> TaskReport:
            try:
                resources, next_cursor = _page(result, name, properties)
            except _Invalid as exc:
                message = f"{handler.what} returned invalid data: {exc}"
                raise _Failed(message, level=logging.ERROR) from None
            return TaskReport.of_page(self.task_id, resources, next_cursor)

        return handler, values, finish

    def _action(
        self, resource_type: TypeDefinition, request: ExecuteResourceActionRequest
    ) -> tuple[HandlerDefinition, _Values, Finish]:
        action = request.action
        handler = resource_type.actions.get(action)
        if handler is None:
            raise _Failed(
                f"resource type {resource_type.name!r} has no action {action!r}; "
                f"its actions: {_listed(resource_type.actions)}"
            )
        value = self._input(handler, request.input)
        values = self._values(handler, request, request.resource, value, None)

        def finish(result: Any) -> TaskReport:
            output = handler.output
            if output is None:  # pragma: no cover - every action gets an output spec
                raise _Failed(f"{handler.what} has no output schema")
            data, problems = output.dump(result)
            if problems or data is None:
                message = f"{handler.what} returned invalid data: " + "; ".join(problems)
                raise _Failed(message, level=logging.ERROR)
            return TaskReport.of_output(self.task_id, data)

        return handler, values, finish

    def _input(self, handler: HandlerDefinition, raw: dict[str, Any] | None) -> Any:
        """The handler's input, defaults applied and validated; every problem at once."""
        spec = handler.input
        if spec is None:
            return None
        value, problems = spec.load(raw)
        if problems:
            message = f"invalid input for {handler.what}: " + "; ".join(problems)
            raise _Failed(message, level=logging.INFO)
        if spec.may_hold_secrets:
            self.secrets.add_input(value)
        return value

    def _values(
        self,
        handler: HandlerDefinition,
        request: Any,
        resource: Resource | None,
        value: Any,
        cursor: str | None,
    ) -> _Values:
        ctx = None
        if handler.wants_context:
            subject = self.subject
            ctx = Context(
                task_id=self.task_id,
                app_id=self.runtime.app_id,
                version=self.runtime.version,
                resource_type=subject.resource_type,
                operation=subject.operation or "action",
                action=subject.action,
                metadata=self.task.metadata,
                environment_variables=getattr(request, "environment_variables", None),
                app=self.runtime,
            )
        state = None
        if handler.wants_state:
            try:
                state = self.runtime.state
            except LookupError as exc:
                raise _Failed(
                    f"{handler.what} takes what the app's lifespan yields, but {exc}"
                ) from None
        return (ctx, resource, value, cursor, state)


class _Invalid(Exception):
    """The handler returned data that breaks the contract or the schema."""


def _page(result: Any, name: str, properties: PropertiesSpec | None) -> tuple[list[Resource], str]:
    """A list handler's result as the page's resources and next cursor; or `_Invalid`."""
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
            resources.append(_finish(item, name, None, properties, index))
        except _Invalid as exc:
            problems.append(str(exc))
    if problems:
        raise _Invalid("; ".join(problems))
    return resources, next_cursor


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
    where = "resource" if index is None else f"resources[{index}]"
    if isinstance(result, Resource):
        resource = result
    elif isinstance(result, Mapping):
        try:
            resource = Resource.model_validate(result)
        except ValidationError as exc:
            raise _Invalid(f"{where}: not a valid resource: {describe_errors(exc)}") from None
    else:
        raise _Invalid(f"{where}: is a {type(result).__name__}, not a tempest.Resource")
    # Fill in what the task already knows, in a copy: the handler's object is its own
    # (it may be cached, or shared between tasks).
    updates: dict[str, Any] = {}
    if not resource.type:
        updates["type"] = name
    elif resource.type != name:
        raise _Invalid(f"{where}.type: is {resource.type!r}, but the task is for {name!r}")
    if not resource.external_id:
        if known is not None and known.external_id:
            updates["external_id"] = known.external_id
        else:
            raise _Invalid(
                f"{where}.external_id: is empty; a resource needs the id it has in the "
                "external system"
            )
    if not resource.display_name and known is not None and known.display_name:
        updates["display_name"] = known.display_name
    if properties is not None:
        current = resource.properties
        checked, problems = properties.check(current, f"{where}.properties")
        if problems:
            raise _Invalid("; ".join(problems))
        if checked is not current:
            updates["properties"] = checked
    return resource.model_copy(update=updates) if updates else resource


def _listed(names: Iterable[str]) -> str:
    """`names` for a message saying what exists: quoted, or `none`."""
    return ", ".join(repr(name) for name in names) or "none"
