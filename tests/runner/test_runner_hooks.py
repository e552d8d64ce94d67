"""Hooks: counting metrics, wrapping tasks, and hooks that misbehave."""

from __future__ import annotations

from collections import Counter

import anyio
import pytest

from tempest_sdk.client import InternalServerError
from tempest_sdk.models import TaskReport
from tempest_sdk.runner import PollEvent, ReportEvent, Runner, RunnerHook, TaskCall, TaskInfo
from tempest_sdk.runner._hooks import InterceptedTask, run_chain

from .fakes import FAST, FakeApp, FakeSource, make_task, ok_report, wait_until


class Metrics(RunnerHook):
    """What a Prometheus exporter would count."""

    def __init__(self) -> None:
        self.tasks: Counter[tuple[str, str, str]] = Counter()
        self.polls: Counter[str] = Counter()
        self.reports: Counter[str] = Counter()
        self.durations: list[float] = []

    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        started = anyio.current_time()
        report = await call_next()
        self.durations.append(anyio.current_time() - started)
        self.tasks[(task.kind, task.name, str(report.status))] += 1
        return report

    async def on_poll(self, event: PollEvent) -> None:
        self.polls[event.outcome] += 1

    async def on_report(self, event: ReportEvent) -> None:
        self.reports[event.outcome] += 1


async def test_a_metrics_hook_counts_tasks_polls_and_reports():
    metrics = Metrics()
    source, app = FakeSource(), FakeApp()
    source.report_errors["t2"].append(
        InternalServerError("503", endpoint="/report", status_code=503)
    )
    source.push(
        "shop",
        "v1",
        make_task("t1"),
        make_task("t2", operation="delete"),
        make_task("t3", action="rebuild"),
        InternalServerError("503", endpoint="/next", status_code=503),
    )
    async with Runner(app, source, concurrency=1, hooks=[metrics], **FAST):
        await wait_until(lambda: len(source.acked) == 3, "3 reports")
        await wait_until(lambda: metrics.polls["empty"] >= 1, "an empty poll")
    assert metrics.tasks == {
        ("operation", "create", "ok"): 1,
        ("operation", "delete", "ok"): 1,
        ("action", "rebuild", "ok"): 1,
    }
    assert metrics.polls["task"] == 3
    assert metrics.polls["error"] == 1
    assert metrics.reports == {"acked": 3, "retrying": 1}
    assert len(metrics.durations) == 3


class Order(RunnerHook):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        self.log.append(f"{self.name} before")
        report = await call_next()
        self.log.append(f"{self.name} after")
        return report


INFO = TaskInfo("shop", "v1", "t1", "operation", "example", "create")
TASK = InterceptedTask.of(INFO, make_task("t1"))


async def test_the_first_hook_is_outermost():
    log: list[str] = []

    async def inner() -> TaskReport:
        log.append("task")
        return ok_report(make_task("t1"))

    await run_chain([Order("a", log), Order("b", log)], TASK, inner)
    assert log == ["a before", "b before", "task", "b after", "a after"]


class RaisesBefore(RunnerHook):
    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        raise RuntimeError("broken exporter")


class RaisesAfter(RunnerHook):
    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        await call_next()
        raise RuntimeError("broken exporter")


class ReturnsJunk(RunnerHook):
    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        await call_next()
        return "junk"  # type: ignore[return-value]


class CallsTwice(RunnerHook):
    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        await call_next()
        return await call_next()


@pytest.mark.parametrize("hook", [RaisesBefore(), RaisesAfter(), ReturnsJunk(), CallsTwice()])
async def test_a_broken_hook_never_loses_the_task(hook, caplog):
    runs: list[str] = []

    async def inner() -> TaskReport:
        runs.append("task")
        return ok_report(make_task("t1"))

    report = await run_chain([hook], TASK, inner)
    assert report.task_id == "t1"
    assert runs == ["task"]
    assert caplog.records


async def test_a_failing_observer_is_ignored():
    class Broken(RunnerHook):
        async def on_poll(self, event: PollEvent) -> None:
            raise RuntimeError("broken")

        async def on_report(self, event: ReportEvent) -> None:
            raise RuntimeError("broken")

    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1"))
    async with Runner(app, source, hooks=[Broken()], **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the report")
