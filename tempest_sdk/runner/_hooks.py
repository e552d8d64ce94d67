"""Hooks: the one kind of runner extension (metrics, tracing, audit, your own).

A hook subclasses `RunnerHook` and overrides what it needs: wrap each task, see
each poll and report attempt, and be bound to the runners it serves (to read their
`sample()` when metrics are collected). The SDK's `PrometheusMetrics` and
`OpenTelemetry` are hooks like any other. A hook that raises is logged and ignored;
it never loses a task.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from .._logfields import task_fields
from ..models import Task, TaskKind, TaskReport, TaskSubject

if TYPE_CHECKING:
    from ._protocols import RunnableApp

__all__ = [
    "PollEvent",
    "PollOutcome",
    "ReportEvent",
    "ReportOutcome",
    "ObservedRunner",
    "RunnerHook",
    "RunnerSample",
    "TaskCall",
    "TaskInfo",
    "run_with_hooks",
]

logger = logging.getLogger("tempest_sdk.runner")

PollOutcome = Literal["task", "empty", "duplicate", "malformed", "error"]
"""What one `next` call produced: a new task, nothing, a redelivered task that was
not run again, an unreadable answer, or a failed call."""

ReportOutcome = Literal["acked", "gone", "rejected", "retrying", "abandoned"]
"""What one report attempt came to: accepted; the task is unknown (404, dropped);
refused as invalid (400, replaced by an error report or dropped); failed and will
be retried; or still undelivered when the runner stopped."""


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """What a task is, without its input or environment (safe to log and label with).

    Attributes:
        app_id: the app the task belongs to.
        version: the app version.
        task_id: the control plane's id of the task.
        kind: `"operation"`, `"action"` or `"list"`.
        resource_type: the resource type the task addresses.
        name: the operation (`create`, `read`, `update`, `delete`), the action's
            name, or `"list"`.
        waited: seconds the task waited in this process for its resource type's or
            action's limits (`max_concurrency=`, `rate_limit=`) before it started.
    """

    app_id: str
    version: str
    task_id: str
    kind: TaskKind
    resource_type: str
    name: str
    waited: float = 0.0

    @classmethod
    def of(cls, app_id: str, version: str, task: Task) -> TaskInfo:
        """Describe `task` of app `app_id` version `version`."""
        subject = task.subject
        return cls(app_id, version, task.task_id, subject.kind, subject.resource_type, subject.name)

    @property
    def subject(self) -> TaskSubject:
        """What the task is about: kind, resource type, operation or action."""
        return TaskSubject(self.kind, self.resource_type, self.name)

    def fields(self, **more: object) -> dict[str, object]:
        """The `extra=` fields of a log record about this task."""
        return task_fields(self.app_id, self.version, self.task_id, self.subject, **more)


@dataclass(frozen=True, slots=True)
class PollEvent:
    """One `next` call and its outcome.

    Attributes:
        app_id: the app polled for.
        version: the app version polled for.
        outcome: what the call produced.
        duration: seconds the call took.
        task_id: the task handed out, when there was one.
        error: the failure, for `malformed` and `error`.
    """

    app_id: str
    version: str
    outcome: PollOutcome
    duration: float
    task_id: str | None = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class ReportEvent:
    """One attempt to deliver a report.

    Attributes:
        task_id: the task reported on.
        status: the report's status, `"ok"` or `"error"`.
        outcome: what the attempt came to.
        attempt: 0 for the first attempt, then 1, 2, ...
        duration: seconds the attempt took.
        error: the failure, unless `acked`.
    """

    task_id: str
    status: str
    outcome: ReportOutcome
    attempt: int
    duration: float
    error: BaseException | None = None


TaskCall = Callable[[], Awaitable[TaskReport]]
"""What `RunnerHook.around_task` calls to run the rest of the chain and the task."""


@dataclass(frozen=True, slots=True)
class RunnerSample:
    """A runner's state at one moment, as metrics show it (`Runner.sample()`).

    Attributes:
        in_flight: tasks running now.
        slots: the runner's concurrency.
        pending_reports: reports waiting to be delivered.
        outbox_reports: reports kept in the outbox, None without an outbox.
        retry_budget: tokens left in the retry budget.
        health: `(app, version, resource type, status)` of the last health report.
        blocked_seconds: how long the event loop has been blocked, now.
    """

    in_flight: int
    slots: int
    pending_reports: int
    outbox_reports: int | None
    retry_budget: int
    health: tuple[tuple[str, str, str, str], ...]
    blocked_seconds: float


class ObservedRunner(Protocol):
    """What a hook may read of a runner it is bound to."""

    @property
    def apps(self) -> tuple[RunnableApp, ...]:
        """The apps the runner serves."""
        ...

    def sample(self) -> RunnerSample:
        """The runner's state now; safe to call from any thread."""
        ...


class RunnerHook:
    """Base class of runner hooks; every method does nothing until overridden.

    Example, counting outcomes:

        class Counting(RunnerHook):
            def __init__(self) -> None:
                self.counts: Counter[str] = Counter()

            async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
                report = await call_next()
                self.counts[report.status] += 1
                return report
    """

    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        """Wrap the execution of one task; call `call_next()` once and return its report.

        Cancellation (task timeouts are reports, but a shutdown past its grace
        cancels) propagates through `call_next()` like any exception.
        """
        return await call_next()

    async def on_poll(self, event: PollEvent) -> None:
        """Called after each `next` call."""

    async def on_report(self, event: ReportEvent) -> None:
        """Called after each attempt to deliver a report."""

    def bind(self, runner: ObservedRunner) -> None:
        """Called when a runner that has this hook starts, before its first poll."""

    def unbind(self, runner: ObservedRunner) -> None:
        """Called when that runner has stopped."""


def overriding(hooks: Sequence[RunnerHook], method: str) -> tuple[RunnerHook, ...]:
    """The hooks that override `method`, so the runner skips the no-op ones."""
    base = getattr(RunnerHook, method)
    return tuple(hook for hook in hooks if getattr(type(hook), method, base) is not base)


async def run_with_hooks(
    hooks: Sequence[RunnerHook], task: TaskInfo, innermost: TaskCall
) -> TaskReport:
    """Run `innermost` inside every hook's `around_task`, the first hook outermost.

    A hook that raises, returns something else than a report of this task, or never
    calls `call_next` is logged; the task's own report is then used (the task is run
    without hooks if it did not run yet).
    """
    produced: list[TaskReport] = []
    started = False

    async def inner() -> TaskReport:
        nonlocal started
        if started:
            raise RuntimeError("call_next() was called more than once")
        started = True
        report = await innermost()
        produced.append(report)
        return report

    call: TaskCall = inner
    for hook in reversed(hooks):
        call = _bind(hook, task, call)
    try:
        report = await call()
    except Exception:
        logger.exception(
            "a runner hook failed around task %s; its report is used as is",
            task.task_id,
            extra=task.fields(),
        )
        report = None
    if isinstance(report, TaskReport) and report.task_id == task.task_id:
        return report
    if report is not None:
        logger.error(
            "a runner hook returned %r instead of the report of task %s; ignored",
            type(report).__name__,
            task.task_id,
            extra=task.fields(),
        )
    if produced:
        return produced[0]
    if not started:
        return await innermost()
    # `innermost` started but produced nothing: only possible if it was cancelled,
    # and a cancellation does not reach this line.
    raise RuntimeError(f"task {task.task_id} produced no report")  # pragma: no cover


def _bind(hook: RunnerHook, task: TaskInfo, call_next: TaskCall) -> TaskCall:
    async def call() -> TaskReport:
        return await hook.around_task(task, call_next)

    return call
