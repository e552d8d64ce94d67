"""`check_health(runtime)`: every health check of an app, concurrently, each under a timeout."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from .._secrets import mask
from .._tracebacks import handler_traceback
from ..models import AppHealthReportItem, AppHealthReportRequest, HealthStatus
from ._context import Context
from ._errors import TaskError
from ._handlers import HandlerDefinition
from ._invoke import HandlerTimeout, call_arguments, invoke
from ._results import Health

if TYPE_CHECKING:
    from ._definition import TypeDefinition
    from ._runtime import AppRuntime

__all__ = ["check_health"]

_LOGGER = logging.getLogger("tempest_sdk.app")


async def check_health(runtime: AppRuntime, *, timeout: float) -> AppHealthReportRequest | None:
    """Run the app's health checks (see `App.check_health`)."""
    checks = [
        (resource_type, resource_type.handlers["health_check"])
        for resource_type in runtime.definition.types.values()
        if "health_check" in resource_type.handlers
    ]
    if not checks:
        return None
    items: list[AppHealthReportItem | None] = [None] * len(checks)

    async def run(index: int, resource_type: TypeDefinition, handler: HandlerDefinition) -> None:
        items[index] = await _check(runtime, resource_type, handler, timeout)

    async with anyio.create_task_group() as group:
        for index, (resource_type, handler) in enumerate(checks):
            group.start_soon(run, index, resource_type, handler)
    return AppHealthReportRequest(
        app_id=runtime.app_id,
        version=runtime.version,
        health_reports=[_masked(item) for item in items if item is not None],
    )


def _masked(item: AppHealthReportItem) -> AppHealthReportItem:
    """The item with every secret the process knows masked in its message: a check
    that returns `Health.disrupted(str(e))` for a 401 quoting its key, or raises it."""
    if item.message is None:
        return item
    message = mask(item.message)
    if message is item.message:
        return item
    return AppHealthReportItem(type=item.type, status=item.status, message=message)


async def _check(
    runtime: AppRuntime, resource_type: TypeDefinition, handler: HandlerDefinition, default: float
) -> AppHealthReportItem:
    name = resource_type.name
    # The handler's own timeout, else its resource type's (folded in at registration).
    seconds = handler.timeout if handler.timeout is not None else default
    ctx = Context(
        task_id="",
        app_id=runtime.app_id,
        version=runtime.version,
        resource_type=name,
        operation="health_check",
        app=runtime,
    )
    try:
        state = runtime.state if handler.wants_state else None
    except LookupError as exc:
        return _disrupted(name, f"health check takes what the app's lifespan yields, but {exc}")
    args, kwargs = call_arguments(handler, (ctx, None, None, None, state))
    try:
        result = await invoke(handler, args, kwargs, seconds, None)
    except HandlerTimeout as exc:
        message = f"health check {exc}"
        _LOGGER.warning("health check of %r %s", name, exc)
        return _disrupted(name, message)
    except TaskError as exc:
        return _disrupted(name, f"health check failed: {exc.describe(name)}")
    except Exception as exc:
        _LOGGER.error("health check of %r raised\n%s", name, handler_traceback(exc))
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return _disrupted(name, f"health check failed: {detail}")
    if not isinstance(result, Health):
        return _disrupted(
            name, f"health check returned a {type(result).__name__}, not a tempest.Health"
        )
    try:
        status = HealthStatus(result.status)
    except ValueError:
        return _disrupted(
            name,
            f"health check returned status {result.status!r}; expected healthy, degraded "
            "or disrupted",
        )
    if result.message is not None and not isinstance(result.message, str):
        return _disrupted(
            name, f"health check returned a message of type {type(result.message).__name__}"
        )
    if result.message is None:
        return AppHealthReportItem(type=name, status=status)
    return AppHealthReportItem(type=name, status=status, message=result.message)


def _disrupted(name: str, message: str) -> AppHealthReportItem:
    return AppHealthReportItem(type=name, status=HealthStatus.DISRUPTED, message=message)
