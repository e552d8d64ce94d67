"""What the SDK's metric hooks share: probes, the runner's state, bounded labels.

`Observer` is the base of `PrometheusMetrics` and `OpenTelemetry`, an `Interceptor`
like any other: the runner binds it when it starts and unbinds it when it stops, so
that gauges (tasks in flight, report backlog, outbox, retry budget, health) are read
from the runners' public `sample()` when metrics are collected, on whatever thread
collects them. Events (tasks, polls, reports) arrive through the hook's methods.

Nothing here imports a metrics or tracing library.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import anyio

from ..models import Operation, ReportStatus, TaskReport
from ._hooks import (
    InterceptedTask,
    Interceptor,
    ObservedRunner,
    PollEvent,
    ReportEvent,
    RunnerSample,
    TaskCall,
    TaskInfo,
)

if TYPE_CHECKING:
    from ._protocols import RunnableApp

__all__ = [
    "DURATION_BUCKETS",
    "HEALTH_STATUSES",
    "Observer",
    "Probe",
    "RunnerSample",
    "TaskLabels",
    "TaskOutcome",
    "TaskSeries",
    "outcome_of",
]

TaskOutcome = Literal["ok", "error", "timeout", "cancelled"]
"""How a task ended: reported ok; reported as failed; timed out; or cancelled by a
shutdown past its grace period (or an abort)."""

HEALTH_STATUSES = ("healthy", "degraded", "disrupted")

DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0
)  # fmt: skip
"""Histogram buckets of task durations, in seconds: up to the default task timeout."""

OTHER = "other"
"""The label value of a resource type or action that the served app does not declare."""

# What dispatch writes when a handler runs past its timeout: "<what> timed out after
# 30s", where <what> is e.g. "create of 'widget'" (see `_app/_invoke.HandlerTimeout`).
_TIMEOUT = re.compile(r" of .+ timed out after \d[\d.e+-]*s( waiting for a free worker thread)?\Z")
_OPERATIONS = frozenset(str(operation) for operation in Operation)


@dataclass(frozen=True, slots=True)
class Probe:
    """The answer of a liveness or readiness probe.

    Attributes:
        ok: whether the probe passes.
        reason: a short sentence saying why, for people and logs.
    """

    ok: bool
    reason: str

    @property
    def status_code(self) -> int:
        """The HTTP status to answer with: 200 when `ok`, else 503."""
        return 200 if self.ok else 503


TaskLabels = tuple[str, str, str, str, str]
"""`(app, version, resource_type, kind, name)` of a task, with bounded values."""

TaskSeries = Callable[[float], None]
"""Records one task's seconds in an exporter's series of its labels and outcome."""


def _unrecorded(seconds: float) -> None:
    pass


def outcome_of(report: TaskReport) -> TaskOutcome:
    """`ok`, `timeout` (a handler ran past its timeout) or `error`."""
    if report.status is ReportStatus.OK:
        return "ok"
    message = report.message or ""
    if " failed: " not in message and _TIMEOUT.search(message):
        return "timeout"
    return "error"


class _Declared:
    """The resource types and actions one app version declares."""

    def __init__(self, app: RunnableApp) -> None:
        self.actions: dict[str, frozenset[str]] = {}
        try:
            resources = app.describe().resources
        except Exception:  # an app that cannot describe itself fails to connect anyway
            resources = []
        for resource in resources:
            names = (action.name for action in resource.actions or ())
            self.actions[resource.type] = frozenset(name for name in names if name)


class Observer(Interceptor):
    """Base of the SDK's metric hooks: counts task, poll and report events, and reads
    the state of the runners it is bound to when metrics are collected.

    Label values are bounded: the app and version are those served, and a resource
    type or action the app does not declare is counted as `other`. Task ids never
    become labels.
    """

    def __init__(self) -> None:
        # Bound and unbound on an event loop's thread, read by collecting threads.
        self._lock = threading.Lock()
        self._runners: tuple[ObservedRunner, ...] = ()
        self._declared: dict[tuple[str, str], _Declared] = {}
        self._labels: dict[tuple[str, str, str, str, str], TaskLabels] = {}
        # What records a task, by its labels and outcome (bounded values), built once:
        # an exporter's series look-up takes a lock and builds a key on every call.
        self._series: dict[tuple[TaskLabels, TaskOutcome], TaskSeries] = {}

    # -- what subclasses record --------------------------------------------------------

    def _task_series(self, labels: TaskLabels, outcome: TaskOutcome) -> TaskSeries:
        """What records the seconds of a task of `labels` that ended with `outcome`
        (every interceptor inside this one included); called once for each pair."""
        return _unrecorded

    def _task_done(self, labels: TaskLabels, outcome: TaskOutcome, seconds: float) -> None:
        key = (labels, outcome)
        record = self._series.get(key)
        if record is None:
            record = self._series[key] = self._task_series(labels, outcome)
        record(seconds)

    def _task_waited(self, labels: TaskLabels, seconds: float) -> None:
        """A task waited `seconds` for its resource type's or action's limits."""

    def _polled(self, app: str, version: str, outcome: str) -> None:
        """A `next` call ended."""

    def _reported(self, status: str, outcome: str) -> None:
        """A report attempt ended."""

    def _retried(self, call: Literal["next", "report"]) -> None:
        """A failed call will be tried again."""

    # -- the runners observed -------------------------------------------------------------

    def bind(self, runner: ObservedRunner) -> None:
        """Observe `runner` (called by the runner when it starts)."""
        declared = {(app.app_id, app.version): _Declared(app) for app in runner.apps}
        with self._lock:
            self._declared.update(declared)
            self._runners = (*self._runners, runner)

    def unbind(self, runner: ObservedRunner) -> None:
        """Stop observing `runner` (called by the runner when it stops)."""
        with self._lock:
            self._runners = tuple(r for r in self._runners if r is not runner)

    def samples(self) -> list[RunnerSample]:
        """The state of every runner observed now. Thread-safe."""
        return [runner.sample() for runner in self._runners]

    def labels(self, task: TaskInfo) -> TaskLabels:
        """The metric labels of `task`: bounded values, never its id."""
        key = (task.app_id, task.version, task.resource_type, task.kind, str(task.name))
        labels = self._labels.get(key)
        if labels is not None:
            return labels
        declared = self._declared.get((task.app_id, task.version))
        actions = declared.actions.get(task.resource_type) if declared is not None else None
        if actions is None:
            resource_type, name = OTHER, task.name if task.kind != "action" else OTHER
        elif task.kind == "action":
            resource_type, name = task.resource_type, task.name if task.name in actions else OTHER
        else:
            resource_type, name = task.resource_type, task.name
        if task.kind == "operation" and name not in _OPERATIONS:
            name = OTHER
        labels = (task.app_id, task.version, resource_type, task.kind, str(name))
        if labels[2] != OTHER and labels[4] != OTHER:
            self._labels[key] = labels  # a key of declared values: the cache stays bounded
        return labels

    # -- Interceptor --------------------------------------------------------------------

    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        """Time the task and count its outcome."""
        info = task.info
        labels = self.labels(info)
        if info.waited:
            self._task_waited(labels, info.waited)
        started = time.perf_counter()
        try:
            report = await call_next()
        except BaseException as exc:
            cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
            self._task_done(labels, "cancelled" if cancelled else "error", _since(started))
            raise
        self._task_done(labels, outcome_of(report), _since(started))
        return report

    async def on_poll(self, event: PollEvent) -> None:
        """Count the call by outcome; a failed one is retried."""
        self._polled(event.app_id, event.version, event.outcome)
        if event.outcome == "error":
            self._retried("next")

    async def on_report(self, event: ReportEvent) -> None:
        """Count the attempt by status and outcome."""
        self._reported(event.status, event.outcome)
        if event.outcome == "retrying":
            self._retried("report")


def _since(started: float) -> float:
    return time.perf_counter() - started
