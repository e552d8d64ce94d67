"""The runner's reliability on a network, on asyncio and trio: adaptive fetching, retries
that fit the fault rate, no stalls, no false reports, no lost claims.

Each scenario runs in its own event loop of the backend under test, against the
in-memory `FakeSource`, whose `next` calls can take time like a network round trip.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from tempest_sdk._backoff import Backoff
from tempest_sdk.client import InternalServerError, RequestRejectedError
from tempest_sdk.models import ReportStatus, StandardResponse, Task, TaskReport, parse_task
from tempest_sdk.runner import PollEvent, Runner, RunnerHook

from .fakes import FAST, FakeApp, FakeSource, make_task, ok_report, wait_until

NEXT = "/apps.operations.next"
REPORT = "/apps.operations.report"
BACKENDS = ["asyncio", "trio"]


def run_on(backend: str, scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario, backend=backend)


def sleeping(seconds: float) -> Callable[[Task], Awaitable[TaskReport]]:
    async def handler(task: Task) -> TaskReport:
        await anyio.sleep(seconds)
        return ok_report(task)

    return handler


@pytest.mark.parametrize("backend", BACKENDS)
def test_calls_in_flight_grow_with_the_work_then_shrink_to_one_scout(backend):
    source, app = FakeSource(), FakeApp(handler=sleeping(0.01))
    source.next_delay = 0.005
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(300)))

    async def scenario() -> None:
        async with Runner(app, source, concurrency=16, **FAST) as runner:
            await wait_until(lambda: len(source.acked) == 300, "every report", timeout=30)
            [poller] = runner._pollers
            # Empty answers end every caller but the scout.
            await wait_until(lambda: poller.callers == 1, "one scout left")
            source.next_log.clear()
            await wait_until(lambda: len(source.next_log) >= 5, "a few idle polls")
            assert max(in_flight for in_flight, _ in source.next_log) == 1
        # More than the two fixed pollers of old, and never more than the slots.
        assert 2 < source.most_next_in_flight <= 16
        assert 2 < poller.most_callers <= 16

    run_on(backend, scenario)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pollers_and_reporters_are_upper_bounds(backend):
    source, app = FakeSource(), FakeApp()
    source.next_delay = 0.005
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(100)))
    reports_in_flight = 0
    most_reports_in_flight = 0
    report = source.report

    async def slow_report(item: TaskReport, /, **kwargs: object) -> object:
        nonlocal reports_in_flight, most_reports_in_flight
        reports_in_flight += 1
        most_reports_in_flight = max(most_reports_in_flight, reports_in_flight)
        try:
            await anyio.sleep(0.005)
            return await report(item, **kwargs)
        finally:
            reports_in_flight -= 1

    source.report = slow_report  # type: ignore[method-assign]

    async def scenario() -> None:
        async with Runner(app, source, concurrency=32, pollers=3, reporters=2, **FAST):
            await wait_until(lambda: len(source.acked) == 100, "every report", timeout=30)
        assert source.most_next_in_flight <= 3
        assert most_reports_in_flight <= 2

    run_on(backend, scenario)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_isolated_failure_pauses_one_caller_not_the_version(backend):
    # A backoff whose pauses would last minutes: the work must go on without them.
    slow = Backoff(base=400.0, cap=400.0, rng=random.Random(3))
    source, app = FakeSource(), FakeApp(handler=sleeping(0.005))
    source.next_delay = 0.002
    tasks: list[object] = [make_task(f"t{i}") for i in range(40)]
    tasks.insert(10, InternalServerError("503", endpoint=NEXT, status_code=503))
    source.push("shop", "v1", *tasks)

    async def scenario() -> None:
        options = {**FAST, "retry_backoff": slow}
        async with Runner(app, source, concurrency=8, **options):
            await wait_until(lambda: len(source.acked) == 40, "every report", timeout=10)

    run_on(backend, scenario)


class CallersAtErrors(RunnerHook):
    """Records how many `next` callers were alive at each failed call."""

    def __init__(self) -> None:
        self.runner: Runner | None = None
        self.callers: list[int] = []

    async def on_poll(self, event: PollEvent) -> None:
        if event.outcome == "error" and self.runner is not None:
            self.callers.append(self.runner._pollers[0].callers)


class ReportsFirst(FakeSource):
    """Holds `next` calls at the first scripted failure until `reports` reports are
    acknowledged: a report answered in the middle of the failures would end their run
    (an answer is an answer), and whether one is would depend on timing."""

    def __init__(self, reports: int) -> None:
        super().__init__()
        self._reports = reports
        self._reported: anyio.Event | None = None

    def _all_reported(self) -> anyio.Event:
        if self._reported is None:
            self._reported = anyio.Event()
        return self._reported

    async def next_task(self, app_id: str, version: str, /, **kwargs: Any) -> Task | None:
        queue = self.queues[(app_id, version)]
        if queue and isinstance(queue[0], BaseException) and len(self.acked) < self._reports:
            await self._all_reported().wait()
        return await super().next_task(app_id, version, **kwargs)

    async def report(self, report: TaskReport, /, **kwargs: Any) -> StandardResponse:
        answer = await super().report(report, **kwargs)
        if len(self.acked) >= self._reports:
            self._all_reported().set()
        return answer


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_control_plane_is_polled_by_one_caller_with_backoff(backend, caplog):
    source, app = ReportsFirst(reports=30), FakeApp(handler=sleeping(0.005))
    source.next_delay = 0.002
    failures = [InternalServerError("503", endpoint=NEXT, status_code=503) for _ in range(15)]
    source.push("shop", "v1", *(make_task(f"a{i}") for i in range(30)))
    source.push("shop", "v1", *failures)
    source.push("shop", "v1", *(make_task(f"b{i}") for i in range(10)))
    hook = CallersAtErrors()

    async def scenario() -> None:
        runner = Runner(app, source, concurrency=8, hooks=[hook], **FAST)
        hook.runner = runner
        async with runner:
            await wait_until(lambda: len(source.acked) == 40, "work after the faults")
        # Up to 8 callers met the first failures; once five came in a row, each caller
        # that failed again ended, and one caller was left to meet the last ones.
        assert len(hook.callers) == 15
        assert hook.callers[11:] == [1] * 4, hook.callers

    run_on(backend, scenario)
    # Quiet logs: the first failure of the episode, the others counted, not logged.
    logged = [r for r in caplog.records if "polling for app shop v1 failed" in r.getMessage()]
    assert len(logged) == 1, caplog.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_report_refused_for_good_never_stops_handlers(backend, caplog):
    source, app = FakeSource(), FakeApp()
    ids = [f"t{i}" for i in range(40)]
    for task_id in ids:
        refused = RequestRejectedError("413", endpoint=REPORT, status_code=413, error="too big")
        source.report_errors[task_id].extend([refused, refused])
    source.push("shop", "v1", *(make_task(task_id) for task_id in ids))

    async def scenario() -> None:
        async with Runner(app, source, concurrency=2, reporters=1, **FAST):
            await wait_until(lambda: len(app.calls) == 40, "every handler to run")
            await wait_until(lambda: sum(source.report_attempts.values()) == 80, "80 attempts")

    run_on(backend, scenario)
    assert source.acked == []
    assert caplog.text.count("report dropped") == 40


async def fetch_one_task_while_stopping(runner: Runner, source: FakeSource) -> None:
    """Run `runner` until a `next` call in flight when the stop began brings task `late`."""
    source.next_gate = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        await wait_until(lambda: source.next_in_flight == 1, "the first poll")
        source.next_gate.set()  # the first poll: nothing
        await runner.ready()
        source.next_gate = anyio.Event()
        await wait_until(lambda: source.next_in_flight == 1, "a poll in flight")
        group.start_soon(runner.shutdown)
        await wait_until(lambda: runner.state == "stopping", "the stop")
        source.push("shop", "v1", make_task("late"))
        source.next_gate.set()  # the call in flight brings a task, after the stop


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_task_fetched_while_stopping_that_cannot_finish_is_left_unreported(backend, caplog):
    source, app = FakeSource(), FakeApp(handler=sleeping(3600))

    async def scenario() -> None:
        runner = Runner(app, source, concurrency=1, shutdown_grace=0.2, **FAST)
        await fetch_one_task_while_stopping(runner, source)
        assert app.calls == ["late"]
        assert source.report_attempts["late"] == 0
        assert runner.pending_reports == 0

    run_on(backend, scenario)
    assert "fetched while stopping" in caplog.text
    assert "cancelled after" not in caplog.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_task_fetched_while_stopping_runs_within_the_grace_period(backend):
    source, app = FakeSource(), FakeApp(handler=sleeping(0.01))

    async def scenario() -> None:
        runner = Runner(app, source, concurrency=1, shutdown_grace=5.0, **FAST)
        await fetch_one_task_while_stopping(runner, source)
        assert source.acked_ids() == ["late"]
        assert source.acked[0].status is ReportStatus.OK

    run_on(backend, scenario)


class SlowPollHook(RunnerHook):
    """Holds the caller after each `next` call that brought a task."""

    async def on_poll(self, event: PollEvent) -> None:
        if event.outcome == "task":
            await anyio.sleep(3600)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_claim_is_lost_to_a_cancellation_after_the_fetch(backend):
    """The task starts before anything after the `next` call can be cancelled: a stop
    that cuts a slow poll hook short still runs and reports the task."""
    source, app = FakeSource(), FakeApp(handler=sleeping(0.01))

    async def scenario() -> None:
        runner = Runner(
            app, source, concurrency=2, shutdown_grace=0.3, hooks=[SlowPollHook()], **FAST
        )
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await runner.ready()
            source.push("shop", "v1", make_task("t1"))
            await wait_until(lambda: len(source.acked) == 1, "the report")
            await runner.shutdown()
        assert source.acked_ids() == ["t1"]

    run_on(backend, scenario)


def deep_task(task_id: str, depth: int) -> bytes:
    payload = "[" * depth + "]" * depth
    resource = {"type": "example", "external_id": "x", "display_name": "x"}
    task = {
        "request_type": "execute_resource_operation",
        "operation": "create",
        "resource": resource,
        "input": "@",
    }
    owner = {"email": "a@example.com", "name": "A", "type": "user"}
    meta = {"owners": [owner], "author": owner, "project_id": "p", "project_name": "P"}
    body = json.dumps({"task_id": task_id, "task": task, "metadata": meta})
    return body.replace('"@"', payload).encode()


class ParsingSource(FakeSource):
    """Answers `next` with raw bytes parsed like the API client does."""

    def __init__(self, answers: list[bytes]) -> None:
        super().__init__()
        self.answers = answers

    async def next_task(self, app_id: str, version: str, /, **kwargs: object) -> Task | None:
        self.next_calls[(app_id, version)] += 1
        await anyio.lowlevel.checkpoint()
        return parse_task(self.answers.pop(0)) if self.answers else None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_task_nested_too_deep_is_reported_as_failed(backend, caplog):
    caplog.set_level(logging.ERROR)
    source, app = ParsingSource([deep_task("deep", 100_000)]), FakeApp()

    async def scenario() -> None:
        async with Runner(app, source, **FAST):
            await wait_until(lambda: len(source.acked) == 1, "the error report")

    run_on(backend, scenario)
    [report] = source.acked
    assert report.task_id == "deep"
    assert report.status is ReportStatus.ERROR
    assert app.calls == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_health_report_is_retried_with_backoff(backend):
    from .fakes import healthy

    source, app = FakeSource(), FakeApp(health=healthy())
    source.health_errors.extend(
        InternalServerError("503", endpoint="/apps.versions.health", status_code=503)
        for _ in range(3)
    )

    async def scenario() -> None:
        async with Runner(app, source, **FAST):
            await wait_until(lambda: len(source.health) == 1, "the health report")

    run_on(backend, scenario)
    assert source.health_attempts == 4 and app.health_calls == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_internal_error_of_dispatch_becomes_an_error_report(backend, caplog):
    async def broken(task: Task) -> TaskReport:
        raise RuntimeError("bug in dispatch")

    source, app = FakeSource(), FakeApp(handler=broken)
    source.push("shop", "v1", make_task("t1"), make_task("t2"))

    async def scenario() -> None:
        async with Runner(app, source, concurrency=1, **FAST):
            await wait_until(lambda: len(source.acked) == 2, "both reports")

    run_on(backend, scenario)
    assert all(report.status is ReportStatus.ERROR for report in source.acked)
    assert "internal error in tempest_sdk" in (source.acked[0].message or "")
    assert "bug in dispatch" in caplog.text  # the traceback is in the log, not the report
