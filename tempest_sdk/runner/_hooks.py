"""Interceptors: the one kind of runner extension (metrics, tracing, audit, your own).

An interceptor subclasses `Interceptor` and overrides what it needs: wrap each task
(`intercept_task`: before the handler, around it, and the report before it is sent),
see each poll and report attempt, and be bound to the runners it serves (to read
their `sample()` when metrics are collected). The SDK's `PrometheusMetrics` and
`OpenTelemetry` are interceptors like any other; `RunnerHook` is the former name,
whose `around_task` is still honoured.

The chain (modelled on Temporal's worker interceptors, pull-based here): each task's
interceptors run in the task's own context, the first outermost, each calling
`call_next()` once. A failing interceptor becomes the task's error report at its own
link, so the interceptors outside it see that report like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .._logfields import task_fields
from .._secrets import TaskSecrets
from ..models import Task, TaskKind, TaskMetadata, TaskReport, TaskRequest, TaskSubject

if TYPE_CHECKING:
    from ._protocols import RunnableApp

__all__ = [
    "InterceptedTask",
    "Interceptor",
    "ObservedRunner",
    "PollEvent",
    "PollOutcome",
    "ReportEvent",
    "ReportOutcome",
    "RunnerHook",
    "RunnerSample",
    "TaskCall",
    "TaskInfo",
    "overriding",
    "run_chain",
    "task_interceptors",
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
        records_written: tasks recorded so far (`record=`), 0 when recording is off.
        records_dropped: records dropped so far because the disk could not keep up
            or a write failed (the tasks themselves were served and reported).
    """

    in_flight: int
    slots: int
    pending_reports: int
    outbox_reports: int | None
    retry_budget: int
    health: tuple[tuple[str, str, str, str], ...]
    blocked_seconds: float
    records_written: int = 0
    records_dropped: int = 0


class ObservedRunner(Protocol):
    """What a hook may read of a runner it is bound to."""

    @property
    def apps(self) -> tuple[RunnableApp, ...]:
        """The apps the runner serves."""
        ...

    def sample(self) -> RunnerSample:
        """The runner's state now; safe to call from any thread."""
        ...


TaskCall = Callable[[], Awaitable[TaskReport]]
"""What an interceptor calls to run the rest of the chain and the task: `call_next()`."""


@dataclass(frozen=True, slots=True)
class InterceptedTask:
    """One task as the interceptor chain sees it.

    Attributes:
        info: what the task is, without its input or environment: safe to log.
        task: the task as Tempest sent it, input and environment variables included
            (their secret values too: never log or store it unmasked; `mask_data`).
        started: when the chain began for this task, in seconds since the epoch
            (`time.time()`), once the task's limits let it start (`info.waited`
            seconds after it was fetched). Measure durations with a monotonic clock.
        secrets: the SDK's record of the task's secrets, which `mask` and `mask_data`
            use (the same the runner masks logs with while the task runs).
    """

    info: TaskInfo
    task: Task = field(repr=False)
    started: float
    secrets: TaskSecrets = field(repr=False, compare=False)

    @classmethod
    def of(cls, info: TaskInfo, task: Task, secrets: TaskSecrets | None = None) -> InterceptedTask:
        """`task` described by `info`, starting now; `secrets` are the task's own (the
        runner passes those it masks everywhere while the task runs)."""
        if secrets is None:
            secrets = TaskSecrets(task.task)
        return cls(info, task, time.time(), secrets)

    @property
    def request(self) -> TaskRequest:
        """What the task asks (`task.task`): the operation, action or list request,
        with its resource, input and environment variables."""
        return self.task.task

    @property
    def metadata(self) -> TaskMetadata:
        """Who asked for the task (`author`, `owners`) and in which project."""
        return self.task.metadata

    def mask(self, text: str) -> str:
        """`text` with this task's secrets and the process's masked."""
        return self.secrets.mask(text)

    def mask_data(self, value: Any) -> Any:
        """`value` (JSON-like data: `task.to_wire()`, `report.to_wire()`) with every
        secret of this task (its secret, certificate and key variables) and of the
        process (the API token, the serving apps' settings) masked in every string,
        keys included. What a recorder or an audit log writes goes through this."""
        return self.secrets.mask_data(value)


class Interceptor:
    """Base class of the runner's interceptors; every method does nothing until overridden.

    The runner's one kind of extension: metrics, tracing, audit records, quotas, your
    own. Pass them in `hooks=`; the first is outermost. An interceptor may serve
    several runners at once.

    `intercept_task` wraps each task: what it does before `call_next()` happens before
    the handler runs, in the task's own context (a `contextvars.ContextVar` set there
    is seen by the handler, async or plain `def`); the report `call_next()` returns is
    the one the inner chain produced, and the report it returns is the one sent.

    Errors: an interceptor that raises (or returns something else than a report of
    its task) makes the task fail with an error report naming the interceptor (the
    exception's type, never its text), logged once at ERROR with its traceback; the
    task is never lost and the runner goes on. Raised before `call_next()`, the
    handler does not run; raised after it, the handler's report is replaced.
    Interceptors outside the failing one see that error report. Cancellation (a
    shutdown past its grace) propagates through `call_next()` like any exception.
    `on_poll` and `on_report` failures are logged and ignored.

    Example, counting outcomes:

        class Counting(Interceptor):
            def __init__(self) -> None:
                self.counts: Counter[str] = Counter()

            async def intercept_task(
                self, task: InterceptedTask, call_next: TaskCall
            ) -> TaskReport:
                report = await call_next()
                self.counts[report.status] += 1
                return report
    """

    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        """Wrap one task: call `call_next()` at most once and return the report to send.

        Returning a report of this task without calling `call_next()` skips the handler
        (and the interceptors inside this one): a quota refusing a task, say.
        """
        return await call_next()

    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        """Deprecated: override `intercept_task`. Honoured when a subclass overrides it
        (and not `intercept_task`), with the old contract: a failure in it is logged
        and ignored, and the task runs on without it."""
        return await call_next()

    async def on_poll(self, event: PollEvent) -> None:
        """Called after each `next` call."""

    async def on_report(self, event: ReportEvent) -> None:
        """Called after each attempt to deliver a report."""

    def bind(self, runner: ObservedRunner) -> None:
        """Called when a runner that has this interceptor starts, before its first poll."""

    def unbind(self, runner: ObservedRunner) -> None:
        """Called when that runner has stopped."""


RunnerHook = Interceptor
"""The former name of `Interceptor`, kept: `RunnerHook` subclasses and their
`around_task` work as before."""


def overriding(hooks: Sequence[Interceptor], method: str) -> tuple[Interceptor, ...]:
    """The interceptors that override `method`, so the runner skips the no-op ones."""
    base = getattr(Interceptor, method)
    return tuple(hook for hook in hooks if getattr(type(hook), method, base) is not base)


def task_interceptors(hooks: Sequence[Interceptor]) -> tuple[Interceptor, ...]:
    """The interceptors that wrap tasks: those overriding `intercept_task` or, the old
    way, `around_task`."""
    return tuple(
        hook
        for hook in hooks
        if _overrides(hook, "intercept_task") or _overrides(hook, "around_task")
    )


def _overrides(hook: Interceptor, method: str) -> bool:
    return getattr(type(hook), method) is not getattr(Interceptor, method)


async def run_chain(
    interceptors: Sequence[Interceptor], task: InterceptedTask, innermost: TaskCall
) -> TaskReport:
    """Run `innermost` inside every interceptor, the first outermost.

    Must be awaited in the task's own context: what the interceptors set in it before
    `call_next()` is what the handler sees.
    """
    call = innermost
    for interceptor in reversed(interceptors):
        call = _link(interceptor, task, call)
    return await call()


class _Once:
    """`call_next` of one link: refuses a second call, and remembers whether it ran."""

    __slots__ = ("_call", "called")

    def __init__(self, call: TaskCall) -> None:
        self._call = call
        self.called = False

    def __call__(self) -> Awaitable[TaskReport]:
        if self.called:
            raise RuntimeError("call_next() was called more than once")
        self.called = True
        return self._call()


def _link(interceptor: Interceptor, task: InterceptedTask, call_next: TaskCall) -> TaskCall:
    ways = _WAYS.get(type(interceptor))
    if ways is None:
        ways = _WAYS[type(interceptor)] = _ways(type(interceptor))
    intercepts, legacy = ways
    if intercepts:
        call_next = _intercepting(interceptor, task, call_next)
    if not legacy:
        return call_next
    inner = call_next

    async def call() -> TaskReport:
        once = _Once(inner)
        try:
            return await _around_task(interceptor, task, once)
        except Exception as exc:
            return _failed(interceptor, task, once.called, exc)

    return call


def _intercepting(interceptor: Interceptor, task: InterceptedTask, call_next: TaskCall) -> TaskCall:
    async def call() -> TaskReport:
        once = _Once(call_next)
        try:
            report = await interceptor.intercept_task(task, once)
        except Exception as exc:
            return _failed(interceptor, task, once.called, exc)
        if isinstance(report, TaskReport) and report.task_id == task.info.task_id:
            return report
        return _failed(interceptor, task, once.called, None, report)

    return call


# By class: the chain is linked for every task.
_WAYS: dict[type[Interceptor], tuple[bool, bool]] = {}


def _ways(cls: type[Interceptor]) -> tuple[bool, bool]:
    """Whether `cls` overrides `intercept_task`, and whether its `around_task` (the old
    way) runs: when `intercept_task` is not overridden, or when a subclass overrides
    `around_task` below the class that overrides `intercept_task` (a subclass of
    `PrometheusMetrics`, say), around it."""

    def owner(name: str) -> type:
        return next(klass for klass in cls.__mro__ if name in vars(klass))

    intercept, around = owner("intercept_task"), owner("around_task")
    intercepts = intercept is not Interceptor
    legacy = around is not Interceptor and (
        not intercepts or (around is not intercept and issubclass(around, intercept))
    )
    return intercepts, legacy


def _failed(
    interceptor: Interceptor,
    task: InterceptedTask,
    ran: bool,
    exc: Exception | None,
    returned: object = None,
) -> TaskReport:
    """The error report of a task whose interceptor failed; logged once."""
    info = task.info
    name = task.mask(type(interceptor).__qualname__)
    if exc is not None:
        what = f"raised {type(exc).__name__}"
    elif isinstance(returned, TaskReport):
        what = "returned the report of another task"
    else:
        what = f"returned {type(returned).__name__} instead of a report"
    when = "after the task ran; its report was replaced" if ran else "before the task ran"
    logger.error(
        "interceptor %s %s around task %s (%s), %s: the task is reported as failed",
        name,
        what,
        info.task_id,
        info.subject.describe(),
        when,
        exc_info=exc,
        extra=info.fields(interceptor=name),
    )
    return TaskReport.error(
        info.task_id,
        f"internal error in the app's runner: interceptor {name} {what} {when}; see the app's logs",
    )


async def _around_task(hook: Interceptor, task: InterceptedTask, call_next: _Once) -> TaskReport:
    """A hook's `around_task`, with its old contract: a failure in it is logged, and
    the task's own report is used (the task runs without the hook if it did not yet)."""
    info = task.info
    produced: list[TaskReport] = []

    async def inner() -> TaskReport:
        report = await call_next()
        produced.append(report)
        return report

    try:
        report: object = await hook.around_task(info, inner)
    except Exception:
        logger.exception(
            "a runner hook failed around task %s; its report is used as is",
            info.task_id,
            extra=info.fields(),
        )
        report = None
    if isinstance(report, TaskReport) and report.task_id == info.task_id:
        return report
    if report is not None:
        logger.error(
            "a runner hook returned %r instead of the report of task %s; ignored",
            type(report).__name__,
            info.task_id,
            extra=info.fields(),
        )
    if produced:
        return produced[0]
    if not call_next.called:
        return await call_next()
    # `call_next` started but produced nothing: only possible if it was cancelled,
    # and a cancellation does not reach this line.
    raise RuntimeError(f"task {info.task_id} produced no report")  # pragma: no cover
