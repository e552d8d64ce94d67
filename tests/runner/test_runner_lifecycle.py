"""Starting and stopping: shutdown and its grace, abort, threads, standalone runs."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

import anyio
import httpx
import pytest

from tempest_sdk._backoff import Backoff
from tempest_sdk.client import AuthenticationError, InternalServerError
from tempest_sdk.models import ReportStatus, Task, TaskReport
from tempest_sdk.runner import PollEvent, Runner, RunnerHook, RunnerStartupError, run

from .fakes import FAST, FakeApp, FakeSource, healthy, make_task, ok_report, wait_until


def gated_app() -> tuple[FakeApp, anyio.Event]:
    gate = anyio.Event()

    async def wait_for_gate(task: Task) -> TaskReport:
        await gate.wait()
        return ok_report(task)

    return FakeApp(handler=wait_for_gate), gate


async def hang(task: Task) -> TaskReport:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


async def test_shutdown_lets_running_tasks_finish_and_fetches_nothing_new():
    source = FakeSource()
    app, gate = gated_app()
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(12)))
    runner = Runner(app, source, concurrency=8, **FAST)
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        await runner.ready()
        await wait_until(lambda: app.running == 8, "8 running tasks")
        group.start_soon(runner.shutdown)
        await wait_until(lambda: runner.state == "stopping", "the runner stopping")
        polls = source.next_calls.total()
        gate.set()
    assert runner.state == "stopped"
    assert source.next_calls.total() == polls
    assert sorted(source.acked_ids()) == sorted(f"t{i}" for i in range(8))
    assert all(report.status is ReportStatus.OK for report in source.acked)
    # The 4 tasks never fetched stay with the control plane for another replica.
    assert len(source.queues[("shop", "v1")]) == 4


async def test_tasks_past_the_grace_period_are_cancelled_and_reported():
    source, app = FakeSource(), FakeApp(handler=hang)
    source.push("shop", "v1", make_task("t1"), make_task("t2"))
    runner = Runner(app, source, concurrency=2, **FAST)
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        await wait_until(lambda: app.running == 2, "2 hanging tasks")
        await runner.shutdown(grace=0.01)
    assert sorted(source.acked_ids()) == ["t1", "t2"]
    for report in source.acked:
        assert report.status is ReportStatus.ERROR
        assert "grace period" in (report.message or "")


async def test_abort_stops_at_once_without_reports(caplog):
    source, app = FakeSource(), FakeApp(handler=hang)
    source.push("shop", "v1", make_task("t1"))
    runner = Runner(app, source, **FAST)
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        await wait_until(lambda: app.running == 1, "a hanging task")
        runner.abort()
    assert runner.state == "stopped"
    assert source.acked == []
    assert "stopped at once" in caplog.text


async def test_pending_reports_are_abandoned_loudly_when_the_flush_times_out(caplog):
    source, app = FakeSource(), FakeApp()
    source.report_gate = anyio.Event()  # reports never get through
    source.push("shop", "v1", make_task("t1"))
    options = {**FAST, "flush_timeout": 0.01}
    async with Runner(app, source, **options) as runner:
        await wait_until(lambda: source.report_attempts["t1"] == 1, "a report attempt")
        assert runner.undelivered_reports == 0
    assert "could not be delivered before the runner stopped (lost): t1" in caplog.text
    assert runner.undelivered_reports == 1 and runner.pending_reports == 0


async def test_shutdown_before_run_and_a_second_run():
    source, app = FakeSource(), FakeApp()
    runner = Runner(app, source, **FAST)
    await runner.shutdown()
    with anyio.fail_after(5):
        await runner.run()
    with pytest.raises(RuntimeError, match="runs once"):
        await runner.run()


async def test_cancelling_run_stops_it():
    source, app = FakeSource(), FakeApp(handler=hang)
    source.push("shop", "v1", make_task("t1"))
    runner = Runner(app, source, **FAST)
    with anyio.move_on_after(0.2):
        await runner.run()
    assert runner.state == "stopped"


async def test_ready_waits_for_connect_and_first_poll():
    source, app = FakeSource(), FakeApp()
    runner = Runner(app, source, connect=True, **FAST)
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        await runner.ready()
        assert runner.state == "running"
        assert len(source.connects) == 1
        assert source.next_calls.total() >= 1
        await runner.shutdown()


async def test_without_a_client_or_token_the_startup_error_names_the_variables(monkeypatch):
    for name in ("TEMPEST_TOKEN", "TEMPEST_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RunnerStartupError, match="TEMPEST_TOKEN"):
        await Runner(FakeApp(), **FAST).run()


def test_start_in_thread_serves_until_stopped():
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(5)))
    with Runner(app, source, **FAST).start_in_thread() as handle:
        assert handle.running
        deadline = time.monotonic() + 5
        while len(source.acked) < 5:
            assert time.monotonic() < deadline, "timed out waiting for 5 reports"
            time.sleep(0.005)
    assert not handle.running
    assert handle.runner.state == "stopped"
    handle.stop()  # idempotent


def test_start_in_thread_raises_startup_errors_in_the_caller():
    source = FakeSource()
    source.push("shop", "v1", AuthenticationError("401", endpoint="/next", status_code=401))
    with pytest.raises(RunnerStartupError, match="TEMPEST_TOKEN"):
        Runner(FakeApp(), source, **FAST).start_in_thread()


class _ReadySignal(RunnerHook):
    def __init__(self) -> None:
        self.polled = threading.Event()

    async def on_poll(self, event: PollEvent) -> None:
        self.polled.set()


def _send_signals_when(ready: threading.Event, *signums: int) -> threading.Thread:
    def send() -> None:
        assert ready.wait(5), "the runner never polled"
        for signum in signums:
            time.sleep(0.05)
            os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_standalone_run_stops_gracefully_on_sigterm(monkeypatch):
    monkeypatch.setenv("TEMPEST_RUNNER_CONCURRENCY", "3")
    source, app = FakeSource(), FakeApp()
    hook = _ReadySignal()
    source.push("shop", "v1", make_task("t1"))
    sender = _send_signals_when(hook.polled, signal.SIGTERM)
    run(app, client=source, hooks=[hook], **FAST)
    sender.join(5)
    assert source.acked_ids() == ["t1"]


class _StuckSource(FakeSource):
    """A control plane that never answers the connect call or the first poll."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()

    async def connect_app_version(self, request: Any, /, **kwargs: Any) -> object:
        self.entered.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def next_task(self, app_id: str, version: str, /, **kwargs: Any) -> Task | None:
        self.entered.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("connect", [True, False], ids=["connect", "first-poll"])
def test_a_shutdown_while_starting_stops_at_once(backend, connect, caplog):
    """Neither a hanging connect nor a hanging first poll (with all their retries)
    holds a stop back: nothing runs yet, so there is nothing to drain."""
    caplog.set_level(logging.INFO, logger="tempest_sdk")

    async def scenario() -> None:
        source = _StuckSource()
        runner = Runner(FakeApp(), source, connect=connect, **FAST)
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await wait_until(source.entered.is_set, "the stuck call")
            with anyio.fail_after(5):
                await runner.shutdown()
        assert runner.state == "stopped"
        with pytest.raises(RuntimeError, match="stopped before it was ready"):
            await runner.ready()

    anyio.run(scenario, backend=backend)
    assert "stopping while starting" in caplog.text
    assert "abandoned" not in caplog.text


def test_standalone_run_stops_at_once_on_sigterm_while_starting(caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk")
    source = _StuckSource()
    returned = threading.Event()
    sender = _send_signals_when(source.entered, signal.SIGTERM)

    def backstop() -> None:
        # Should the first signal not be enough, a second one ends the run (and the
        # test fails below) rather than letting it hang.
        if not returned.wait(10):
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=backstop, daemon=True).start()
    run(FakeApp(), client=source, **FAST)
    returned.set()
    sender.join(5)
    assert "stopping while starting" in caplog.text
    assert "received again" not in caplog.text


def test_standalone_run_stops_at_once_on_a_second_signal(caplog):
    source, app = FakeSource(), FakeApp(handler=hang)
    hook = _ReadySignal()
    source.push("shop", "v1", make_task("t1"))
    sender = _send_signals_when(hook.polled, signal.SIGINT, signal.SIGINT)
    started = time.monotonic()
    run(app, client=source, hooks=[hook], shutdown_grace=60.0, **FAST)
    sender.join(5)
    assert time.monotonic() - started < 30  # not the 60 s grace
    assert "received again: stopping at once" in caplog.text


def test_standalone_run_exits_non_zero_with_the_fix_when_the_token_is_rejected():
    source = FakeSource()
    source.push("shop", "v1", AuthenticationError("401", endpoint="/next", status_code=401))
    with pytest.raises(SystemExit) as info:
        run(FakeApp(), client=source, **FAST)
    assert "TEMPEST_TOKEN" in str(info.value.code)


def test_standalone_run_exits_non_zero_on_a_bad_environment_variable(monkeypatch):
    monkeypatch.setenv("TEMPEST_RUNNER_CONCURRENCY", "many")
    with pytest.raises(SystemExit) as info:
        run(FakeApp(), client=FakeSource())
    assert "TEMPEST_RUNNER_CONCURRENCY='many'" in str(info.value.code)


async def test_health_goes_out_at_start_and_on_the_interval():
    source = FakeSource()
    app = FakeApp(health=healthy())
    options = {**FAST, "health_interval": 0.01}
    async with Runner(app, source, **options):
        await wait_until(lambda: len(source.health) >= 3, "3 health reports")
    assert source.health[0].health_reports[0].status == "healthy"


async def test_a_failed_health_report_is_retried_with_backoff_not_after_the_interval(caplog):
    source = FakeSource()
    source.health_errors.extend(
        InternalServerError("503", endpoint="/apps.versions.health", status_code=503)
        for _ in range(3)
    )
    app = FakeApp(health=healthy())
    async with Runner(app, source, **{**FAST, "health_interval": 3600.0}):
        await wait_until(lambda: len(source.health) == 1, "the health report after 3 failures")
    assert source.health_attempts == 4
    assert app.health_calls == 1  # the same round's results, not checked again
    # The first failure is logged; the two that follow it within the summary interval
    # are counted, not logged one by one.
    retries = [r for r in caplog.records if "health report of app shop v1 failed" in r.getMessage()]
    assert len(retries) == 1


async def test_a_health_report_that_keeps_failing_waits_for_the_next_round(caplog):
    source = FakeSource()
    source.health_errors.extend(
        InternalServerError("503", endpoint="/apps.versions.health", status_code=503)
        for _ in range(1000)
    )
    app = FakeApp(health=healthy())
    slow = {**FAST, "health_interval": 0.2, "retry_backoff": Backoff(base=0.15, cap=0.15)}
    async with Runner(app, source, **slow):
        await wait_until(lambda: app.health_calls >= 2, "a second round of checks")
    assert any("the next round checks and reports afresh" in r.getMessage() for r in caplog.records)


async def test_an_app_without_health_checks_sends_no_health():
    source, app = FakeSource(), FakeApp(health=None)
    async with Runner(app, source, **{**FAST, "health_interval": 0.01}):
        await wait_until(lambda: app.health_calls == 1, "the health round")
        await anyio.sleep(0.03)
    assert source.health == []
    assert app.health_calls == 1


async def test_a_hanging_health_check_does_not_hold_tasks_back():
    source = FakeSource()
    app = FakeApp()

    async def never(*, timeout: float = 30.0) -> None:
        await anyio.sleep_forever()

    app.check_health = never  # type: ignore[method-assign]
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(10)))
    async with Runner(app, source, **FAST):
        await wait_until(lambda: len(source.acked) == 10, "10 reports")


async def test_a_blocked_event_loop_is_warned_about(caplog):
    async def blocking(task: Task) -> TaskReport:
        time.sleep(0.3)  # noqa: ASYNC251 - what a careless `async def` handler does
        return ok_report(task)

    source, app = FakeSource(), FakeApp(handler=blocking)
    source.push("shop", "v1", make_task("t1"))
    options = {**FAST, "blocked_loop_warning": 0.1}
    async with Runner(app, source, **options):
        await wait_until(lambda: len(source.acked) == 1, "the report")
    assert any(
        "event loop was blocked" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
    )


def test_standalone_run_builds_its_client_from_endpoint_token_and_transport():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"status": "error", "error": "invalid token"})

    with pytest.raises(SystemExit) as info:
        run(
            FakeApp(),
            endpoint="http://127.0.0.1:9/api/v1",
            token="not-a-valid-token",
            transport=httpx.MockTransport(answer),
            **FAST,
        )
    assert "TEMPEST_TOKEN" in str(info.value.code)
    assert "not-a-valid-token" not in str(info.value.code)
    assert seen[0].url == "http://127.0.0.1:9/api/v1/apps.operations.next"
    assert seen[0].headers["authorization"] == "Bearer not-a-valid-token"


def test_standalone_run_passes_its_tls_settings_to_the_client(tmp_path):
    missing = tmp_path / "corp-ca.pem"
    with pytest.raises(SystemExit) as info:
        run(FakeApp(), endpoint="https://127.0.0.1:9/api/v1", token="t", verify=str(missing))
    assert "corp-ca.pem" in str(info.value.code)
    assert "given by verify=" in str(info.value.code)
    with pytest.raises(SystemExit) as info:
        run(FakeApp(), endpoint="https://127.0.0.1:9/api/v1", token="t", cert=str(missing))
    assert "client certificate" in str(info.value.code)


# -- ctx.stopping ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("plain", [False, True], ids=["async", "plain"])
def test_a_handler_sees_the_runner_stopping_and_returns_early(backend: str, plain: bool) -> None:
    """A long handler checkpoints on `ctx.stopping` and returns within the grace period."""
    import tempest_sdk as tempest

    app = tempest.App("shop", "v1")
    example = app.resource("example", description="d", properties={"type": "object"})
    running = threading.Event()
    seen: list[bool] = []

    if plain:

        @example.create
        def create_plain(ctx: tempest.Context) -> tempest.Resource:
            seen.append(bool(ctx.stopping))
            running.set()
            while not ctx.stopping.is_set():
                time.sleep(0.005)
            seen.append(bool(ctx.stopping))
            return tempest.Resource(external_id="stopped-early")

    else:

        @example.create
        async def create(ctx: tempest.Context) -> tempest.Resource:
            seen.append(bool(ctx.stopping))
            running.set()
            await ctx.stopping.wait()
            seen.append(bool(ctx.stopping))
            return tempest.Resource(external_id="stopped-early")

    source = FakeSource()
    source.push("shop", "v1", make_task("t1"))

    async def scenario() -> None:
        runner = Runner(app, source, **{**FAST, "shutdown_grace": 10.0})
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await runner.ready()
            await wait_until(running.is_set, "the handler to start")
            await runner.shutdown()

    anyio.run(scenario, backend=backend)
    [report] = source.acked
    assert report.status is ReportStatus.OK
    assert report.resource.external_id == "stopped-early"
    assert seen == [False, True]


def test_outside_a_runner_stopping_is_never_set() -> None:
    import tempest_sdk as tempest

    ctx = tempest.Context(
        task_id="t", app_id="a", version="v1", resource_type="x", operation="create"
    )
    assert not ctx.stopping and repr(ctx.stopping) == "Stopping(False)"
