"""The interceptor chain: order, the report sent, failures, context, secrets, the old hooks."""

from __future__ import annotations

import contextvars
import logging
import time
from typing import Any

import anyio
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.models import ReportStatus, TaskReport
from tempest_sdk.runner import (
    InterceptedTask,
    Interceptor,
    PrometheusMetrics,
    Runner,
    RunnerConfigError,
    RunnerHook,
    TaskCall,
    TaskInfo,
)
from tempest_sdk.runner._hooks import run_chain

from .fakes import FAST, FakeApp, FakeSource, make_task, ok_report, wait_until
from .observability import BACKEND_IDS, BACKENDS, run_lists, run_on, shop_runner

SECRET = "s3cr3t-api-key-never-shown"
TASK = make_task("t1", env=[{"name": "API_KEY", "value": SECRET, "type": "secret"}])
INFO = TaskInfo.of("shop", "v1", TASK)


def intercepted() -> InterceptedTask:
    return InterceptedTask.of(INFO, TASK)


class Order(Interceptor):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        self.log.append(f"{self.name} before")
        report = await call_next()
        self.log.append(f"{self.name} after {report.status}")
        return report


class OldStyle(RunnerHook):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        self.log.append(f"old before {task.task_id}")
        report = await call_next()
        self.log.append("old after")
        return report


async def test_the_first_interceptor_is_outermost_and_old_hooks_take_their_place() -> None:
    log: list[str] = []

    async def handler() -> TaskReport:
        log.append("task")
        return ok_report(TASK)

    chain = [Order("a", log), OldStyle(log), Order("b", log)]
    report = await run_chain(chain, intercepted(), handler)
    assert report.status is ReportStatus.OK
    assert log == [
        "a before",
        "old before t1",
        "b before",
        "task",
        "b after ok",
        "old after",
        "a after ok",
    ]


class Replacing(Interceptor):
    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        report = await call_next()
        return report.model_copy(update={"message": "seen by the interceptor"})


class Refusing(Interceptor):
    """A quota: refuses without running the handler."""

    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        return TaskReport.error(task.info.task_id, "over quota")


async def test_the_report_returned_is_the_report_sent() -> None:
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1"), make_task("t2"))
    async with Runner(app, source, concurrency=1, hooks=[Replacing()], **FAST):
        await wait_until(lambda: len(source.acked) == 2, "2 reports")
    assert {report.message for report in source.acked} == {"seen by the interceptor"}


async def test_an_interceptor_may_answer_without_running_the_handler() -> None:
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1"))
    async with Runner(app, source, hooks=[Refusing()], **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the report")
    assert [report.message for report in source.acked] == ["over quota"]
    assert app.calls == []


class RaisesBefore(Interceptor):
    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        raise RuntimeError(f"audit store down, key {SECRET}")


class RaisesAfter(Interceptor):
    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        await call_next()
        raise OSError(f"disk full writing {SECRET}")


class ReturnsJunk(Interceptor):
    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        await call_next()
        return "junk"  # type: ignore[return-value]


class ReturnsAnotherTasksReport(Interceptor):
    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        await call_next()
        return TaskReport.error("t-other", "x")


class CallsTwice(Interceptor):
    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        await call_next()
        return await call_next()


@pytest.mark.parametrize(
    ("broken", "ran", "says"),
    [
        (RaisesBefore(), False, "interceptor RaisesBefore raised RuntimeError before the task ran"),
        (RaisesAfter(), True, "interceptor RaisesAfter raised OSError after the task ran"),
        (ReturnsJunk(), True, "interceptor ReturnsJunk returned str instead of a report after"),
        (
            ReturnsAnotherTasksReport(),
            True,
            "interceptor ReturnsAnotherTasksReport returned the report of another task after",
        ),
        (CallsTwice(), True, "interceptor CallsTwice raised RuntimeError after the task ran"),
    ],
)
async def test_a_failing_interceptor_fails_its_task_naming_itself(
    broken: Interceptor, ran: bool, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    runs: list[str] = []

    async def handler() -> TaskReport:
        runs.append("task")
        return ok_report(TASK)

    with caplog.at_level(logging.ERROR, logger="tempest_sdk.runner"):
        report = await run_chain([Order("outer", log), broken], intercepted(), handler)
    assert report.task_id == "t1"
    assert report.status is ReportStatus.ERROR
    assert says in report.message
    assert runs == (["task"] if ran else [])
    # The interceptors outside see the error report; the failure is logged once.
    assert log == ["outer before", "outer after error"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert type(broken).__name__ in errors[0].getMessage()
    assert errors[0].__dict__["interceptor"] == type(broken).__name__
    # The exception's text (which quotes a secret) is in neither the report nor the message.
    assert SECRET not in report.message
    assert SECRET not in errors[0].getMessage()


async def test_a_failing_interceptor_does_not_stop_the_runner() -> None:
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1"), make_task("t2"))
    async with Runner(app, source, concurrency=1, hooks=[RaisesBefore()], **FAST):
        await wait_until(lambda: len(source.acked) == 2, "2 reports")
    assert {report.status for report in source.acked} == {ReportStatus.ERROR}
    assert app.calls == []


class OldRaisesBefore(RunnerHook):
    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        raise RuntimeError("broken exporter")


async def test_an_old_hook_that_raises_is_still_ignored(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[str] = []

    async def handler() -> TaskReport:
        runs.append("task")
        return ok_report(TASK)

    report = await run_chain([OldRaisesBefore()], intercepted(), handler)
    assert report.status is ReportStatus.OK
    assert runs == ["task"]
    assert "a runner hook failed" in caplog.text


def test_a_hook_that_is_no_interceptor_is_a_clear_error() -> None:
    with pytest.raises(RunnerConfigError, match=r"hooks\[1\] must be a tempest_sdk.runner."):
        Runner(FakeApp(), FakeSource(), hooks=[Interceptor(), object()])  # type: ignore[list-item]


def test_the_intercepted_task_masks_the_tasks_secrets() -> None:
    task = intercepted()
    assert SECRET not in repr(task)
    wire = task.task.to_wire()
    assert SECRET in str(wire)  # the task as received, for whoever needs its values
    masked = task.mask_data(wire)
    assert SECRET not in str(masked)
    assert "API_KEY" in str(masked)  # the variable's name is kept
    assert SECRET not in task.mask(f"key={SECRET}")
    assert abs(task.started - time.time()) < 60
    assert tempest.Interceptor is Interceptor
    assert tempest.InterceptedTask is InterceptedTask


# -- context: what an interceptor sets before call_next() is what the handler sees ------

TENANT: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")


class Tenant(Interceptor):
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        token = TENANT.set(f"tenant-of-{task.info.name}")
        try:
            report = await call_next()
        finally:
            TENANT.reset(token)
        self.seen.append(TENANT.get())
        return report


def context_app(seen: dict[str, str]) -> tempest.App:
    app = tempest.App("shop", "v1")
    item = app.resource(
        "item", display_name="Item", description="An item.", properties={"type": "object"}
    )

    @item.create
    async def create(ctx: tempest.Context) -> tempest.Resource:
        seen["create"] = TENANT.get()  # async: in the task's own context
        return tempest.Resource(external_id="i-1", display_name="i")

    @item.delete
    def delete(ctx: tempest.Context, resource: tempest.Resource) -> None:
        seen["delete"] = TENANT.get()  # plain def: in a worker thread

    return app


async def context_scenario() -> None:
    seen: dict[str, str] = {}
    tenant = Tenant()
    emulator = Emulator(seed=3)
    created = emulator.enqueue_operation("shop", "v1", operation="create", resource_type="item")
    deleted = emulator.enqueue_operation(
        "shop", "v1", operation="delete", resource_type="item", external_id="i-1"
    )
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(context_app(seen), client, hooks=[tenant], concurrency=2, **FAST),
    ):
        assert emulator.url.startswith("http://127.0.0.1:")
        await emulator.wait_for_reports_async(2)
    assert [emulator.reports(t)[0]["status"] for t in (created, deleted)] == ["ok", "ok"]
    assert seen == {"create": "tenant-of-create", "delete": "tenant-of-delete"}
    assert tenant.seen == ["none", "none"]  # reset after the handler, as set


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
def test_a_context_variable_set_before_call_next_reaches_the_handler(
    backend: tuple[str, dict[str, Any]],
) -> None:
    run_on(backend, context_scenario)


async def test_cancellation_goes_through_the_chain() -> None:
    log: list[str] = []

    async def handler() -> TaskReport:
        await anyio.sleep(30)
        raise AssertionError("not reached")

    with anyio.move_on_after(0.05) as scope:
        await run_chain([Order("a", log)], intercepted(), handler)
    assert scope.cancelled_caught
    assert log == ["a before"]


class CountingMetrics(Interceptor):
    """An SDK-style interceptor (as PrometheusMetrics is): it overrides intercept_task."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        report = await call_next()
        self.log.append(f"counted {report.status}")
        return report


class ExtendedOldStyle(CountingMetrics):
    """A user's subclass of it that still overrides around_task, the old way."""

    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        self.log.append("old before")
        report = await call_next()
        self.log.append("old after")
        return report


async def test_an_old_around_task_in_a_subclass_wraps_the_classs_intercept_task() -> None:
    log: list[str] = []

    async def handler() -> TaskReport:
        log.append("task")
        return ok_report(TASK)

    report = await run_chain([ExtendedOldStyle(log)], intercepted(), handler)
    assert report.status is ReportStatus.OK
    assert log == ["old before", "task", "counted ok", "old after"]
    # The class alone, and a class overriding both itself, run intercept_task only.
    log.clear()
    await run_chain([CountingMetrics(log)], intercepted(), handler)
    assert log == ["task", "counted ok"]


async def test_a_prometheus_metrics_subclass_with_around_task_still_counts() -> None:
    seen: list[str] = []

    class Audited(PrometheusMetrics):
        async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
            seen.append(task.resource_type)
            return await call_next()

    metrics = Audited()
    emulator = Emulator()
    async with shop_runner(emulator, hooks=[metrics]):
        await run_lists(emulator, 1)
    assert seen == ["widget"]
    counted = [
        (sample.labels["kind"], sample.labels["outcome"], sample.value)
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for sample in family.samples
        if sample.name == "tempest_tasks_total"
    ]
    assert counted == [("list", "ok", 1.0)]
