"""Per-task timeouts, and `check_health`."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.models import HealthStatus

from .conftest import assert_contract, assert_report, operation_task


class Props(BaseModel):
    color: str


def slow_app(
    *, resource_timeout: float | None = None, handler_timeout: float | None = None
) -> tuple[tempest.App, threading.Event]:
    """An app whose async read sleeps forever and whose sync update blocks on an event."""
    release = threading.Event()
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props, timeout=resource_timeout)

    @example.read(timeout=handler_timeout)
    async def read() -> tempest.Resource:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    @example.update
    def update() -> tempest.Resource:
        release.wait(10)
        return tempest.Resource(properties={"color": "late"})

    return app, release


async def test_async_handler_is_cancelled_on_timeout() -> None:
    app, _ = slow_app()
    with anyio.fail_after(5):
        report = assert_report(
            await app.dispatch(operation_task("read", external_id="x"), timeout=0.05)
        )
    assert report["message"] == "read of 'example' timed out after 0.05s"


async def test_sync_handler_is_abandoned_on_timeout() -> None:
    app, release = slow_app()
    try:
        with anyio.fail_after(5):
            report = assert_report(
                await app.dispatch(
                    operation_task("update", external_id="x", input={}), timeout=0.05
                )
            )
        assert report["message"] == "update of 'example' timed out after 0.05s"
    finally:
        release.set()  # let the abandoned thread finish


async def test_resource_timeout_overrides_the_default_and_handler_timeout_the_resource() -> None:
    app, _ = slow_app(resource_timeout=0.05)
    with anyio.fail_after(5):
        report = assert_report(
            await app.dispatch(operation_task("read", external_id="x"), timeout=60)
        )
    assert report["message"].endswith("timed out after 0.05s")
    app, _ = slow_app(resource_timeout=60, handler_timeout=0.03)
    with anyio.fail_after(5):
        report = assert_report(
            await app.dispatch(operation_task("read", external_id="x"), timeout=60)
        )
    assert report["message"].endswith("timed out after 0.03s")


async def test_no_timeout_by_default_for_a_quick_sync_handler() -> None:
    app, release = slow_app()
    release.set()
    report = assert_report(await app.dispatch(operation_task("update", external_id="x", input={})))
    assert report["response"]["resource"]["properties"] == {"color": "late"}


# -- health -------------------------------------------------------------------------------


async def test_no_health_checks_means_none() -> None:
    app = tempest.App("hello", "v1")
    app.resource("example")
    assert await app.check_health() is None


async def test_check_health_runs_every_check() -> None:
    """Go turns a health handler's error into `disrupted` with its text; so do we, and more."""
    app = tempest.App("hello", "v1")
    results: dict[str, Any] = {
        "fine": tempest.Health.healthy(),
        "noted": tempest.Health.healthy("all good"),
        "slow": tempest.Health.degraded("answers in 3 s"),
        "down": tempest.Health.disrupted("503 from the API"),
        "raises": ConnectionError("refused"),
        "not_found": tempest.ResourceNotFoundError("no cluster"),
        "odd": "healthy",
        "bad_status": tempest.Health("sick"),  # type: ignore[arg-type]
        "bad_message": tempest.Health(HealthStatus.HEALTHY, 3),  # type: ignore[arg-type]
    }
    for name, result in results.items():
        resource_type = app.resource(name)

        def check(ctx: tempest.Context, result: Any = result) -> tempest.Health:
            assert ctx.task_id == ""
            assert ctx.operation == "health_check"
            with pytest.raises(LookupError, match="outside any task"):
                ctx.metadata  # noqa: B018
            if isinstance(result, Exception):
                raise result
            return result  # type: ignore[no-any-return]

        resource_type.health_check(check)

    @app.resource("hangs").health_check(timeout=0.05)
    async def hangs() -> tempest.Health:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    with anyio.fail_after(5):
        report = await app.check_health(timeout=5)
    assert report is not None
    assert_contract("AppHealthReportRequest", report.to_wire())
    got = {item.type: (item.status.value, item.message) for item in report.health_reports}
    assert got == {
        "fine": ("healthy", None),
        "noted": ("healthy", "all good"),
        "slow": ("degraded", "answers in 3 s"),
        "down": ("disrupted", "503 from the API"),
        "raises": ("disrupted", "health check failed: ConnectionError: refused"),
        "not_found": ("disrupted", "health check failed: resource not found: no cluster"),
        "odd": ("disrupted", "health check returned a str, not a tempest.Health"),
        "bad_status": (
            "disrupted",
            "health check returned status 'sick'; expected healthy, degraded or disrupted",
        ),
        "bad_message": ("disrupted", "health check returned a message of type int"),
        "hangs": ("disrupted", "health check timed out after 0.05s"),
    }
    assert [item.type for item in report.health_reports] == [*results, "hangs"]


async def test_health_checks_run_concurrently() -> None:
    app = tempest.App("hello", "v1")
    arrived = 0
    both = anyio.Event()
    for name in ("a", "b"):

        @app.resource(name).health_check
        async def check() -> tempest.Health:
            nonlocal arrived
            arrived += 1
            if arrived == 2:
                both.set()
            await both.wait()  # only returns if the other check runs at the same time
            return tempest.Health.healthy()

    with anyio.fail_after(5):
        report = await app.check_health(timeout=5)
    assert report is not None
    assert len(report.health_reports) == 2
