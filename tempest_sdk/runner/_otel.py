"""OpenTelemetry traces and metrics of the runner (the `otel` extra: opentelemetry-api).

Traces. One span per task, named like the task (`create widget`, `action rebuild on
widget`, `list widget`), from the `next` call that fetched it until its report is
settled (acknowledged, gone, refused for good, or abandoned at stop). It is the
current span while the handler runs, in the handler's task and in the worker thread
of a plain (`def`) handler, so the handler's own instrumented calls join the trace.
Its children:
- `apps.operations.next`: the call that fetched the task;
- `apps.operations.report`: each attempt to deliver the report.
The runner only learns of a call's outcome once it has ended, and a `next` call's
task only once it has answered, so these two are recorded when the call has ended,
with its measured start and end.

Metrics. The measurements of `PrometheusMetrics`, with OpenTelemetry's names.

Span and metric attributes hold ids, names and outcomes; never a task's input, an
environment variable, a report's message or an exception's text (which may quote
them): a failure is recorded by its exception type only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal

from .._secrets import mask, mask_strings
from .._version import __version__
from ._hooks import InterceptedTask, PollEvent, ReportEvent, TaskCall, TaskInfo
from ._log import describe
from ._observe import (
    DURATION_BUCKETS,
    HEALTH_STATUSES,
    Observer,
    TaskLabels,
    TaskOutcome,
    TaskSeries,
    outcome_of,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
    from opentelemetry.trace import Span, TracerProvider

    from ..models import TaskReport
    from ._hooks import ObservedRunner

__all__ = ["OpenTelemetry"]

_INSTALL = "pip install 'tempest-sdk[otel]'"
_NAME = "tempest_sdk"
# Open task spans and the timings of `next` calls waiting for their task's span are
# bounded: an entry whose end never comes (a hook elsewhere that broke the chain) is
# ended and dropped once this many are held.
_MAX_OPEN = 10_000
_MAX_WAITING_POLLS = 1_024
_TERMINAL = frozenset({"acked", "gone", "abandoned"})


class OpenTelemetry(Observer):
    """A runner hook that traces tasks and records the runner's metrics with
    OpenTelemetry.

    Pass it in `hooks=`. Without providers it uses the global ones (set them with
    `opentelemetry.trace.set_tracer_provider` and `opentelemetry.metrics.
    set_meter_provider`, or by the OpenTelemetry distro); until they are set, the
    API's no-op providers make this hook cost little.

    Args:
        tracer_provider: where spans go; default: the global tracer provider.
        meter_provider: where metrics go; default: the global meter provider.

    Raises:
        ImportError: opentelemetry-api is not installed (install the `otel` extra).
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        try:
            from opentelemetry import context, metrics, trace
        except ImportError:
            raise ImportError(
                f"OpenTelemetry support needs opentelemetry-api: {_INSTALL}"
            ) from None
        super().__init__()
        self._context = context
        self._trace = trace
        self._tracer = trace.get_tracer(_NAME, __version__, tracer_provider)
        self._open: dict[str, Span] = {}
        self._waiting_polls: dict[str, tuple[int, int]] = {}
        self._attributes: dict[TaskLabels, dict[str, str]] = {}

        meter = metrics.get_meter(_NAME, __version__, meter_provider)
        self._tasks = meter.create_counter(
            "tempest.tasks", unit="{task}", description="Tasks run, by how they ended."
        )
        self._durations, self._waits = (
            meter.create_histogram(
                name,
                unit="s",
                description=text,
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
            for name, text in (
                ("tempest.task.duration", "Seconds a task's handler took."),
                (
                    "tempest.task.limit_wait",
                    "Seconds a task waited for its limits before it started.",
                ),
            )
        )
        self._polls = meter.create_counter(
            "tempest.polls", unit="{call}", description="apps.operations.next calls, by outcome."
        )
        self._reports = meter.create_counter(
            "tempest.report.attempts",
            unit="{attempt}",
            description="apps.operations.report attempts, by report status and outcome.",
        )
        self._retries = meter.create_counter(
            "tempest.retries", unit="{call}", description="Failed calls that are tried again."
        )
        gauge, counter = meter.create_observable_gauge, meter.create_observable_counter
        # Sums over the runners' samples: gauges of what is now, counters of what grows.
        summed = {
            "tempest.tasks.in_flight": (
                gauge,
                "{task}",
                "Tasks whose handler runs now.",
                "in_flight",
            ),
            "tempest.task.slots": (
                gauge,
                "{task}",
                "Tasks that may be in flight at once.",
                "slots",
            ),
            "tempest.reports.pending": (
                gauge,
                "{report}",
                "Finished tasks whose report is queued or being delivered.",
                "pending_reports",
            ),
            "tempest.retry_budget.tokens": (
                gauge,
                "{token}",
                "Tokens left in the retry budget.",
                "retry_budget",
            ),
            "tempest.event_loop.blocked": (
                counter,
                "s",
                "Seconds the event loop was blocked.",
                "blocked_seconds",
            ),
            "tempest.records.written": (
                counter,
                "{record}",
                "Tasks recorded with their reports (record=).",
                "records_written",
            ),
            "tempest.records.dropped": (
                counter,
                "{record}",
                "Records dropped because the disk could not keep up.",
                "records_dropped",
            ),
        }
        for name, (create, unit, text, field) in summed.items():
            create(name, callbacks=[self._summing(field)], unit=unit, description=text)
        gauge(
            "tempest.outbox.reports",
            callbacks=[self._observe_outbox],
            unit="{report}",
            description="Reports kept in the on-disk outbox until acknowledged.",
        )
        gauge(
            "tempest.health.status",
            callbacks=[self._observe_health],
            description="The last health check of each resource type: 1 for its status.",
        )

    def __repr__(self) -> str:
        return f"<OpenTelemetry runners={len(self._runners)} open_spans={len(self._open)}>"

    # -- metrics ------------------------------------------------------------------------

    def _task_series(self, labels: TaskLabels, outcome: TaskOutcome) -> TaskSeries:
        ended = _metric_attributes(labels, outcome)
        of_task = self._attributes_of(labels)
        add, observe = self._tasks.add, self._durations.record

        def record(seconds: float) -> None:
            add(1, ended)
            observe(seconds, of_task)

        return record

    def _attributes_of(self, labels: TaskLabels) -> dict[str, str]:
        attributes = self._attributes.get(labels)
        if attributes is None:
            attributes = self._attributes[labels] = _metric_attributes(labels, None)
        return attributes

    def _task_waited(self, labels: TaskLabels, seconds: float) -> None:
        self._waits.record(seconds, self._attributes_of(labels))

    def _polled(self, app: str, version: str, outcome: str) -> None:
        self._polls.add(
            1,
            {"tempest.app_id": app, "tempest.app_version": version, "tempest.outcome": outcome},
        )

    def _reported(self, status: str, outcome: str) -> None:
        self._reports.add(1, {"tempest.report.status": status, "tempest.outcome": outcome})

    def _retried(self, call: Literal["next", "report"]) -> None:
        self._retries.add(1, {"tempest.call": call})

    def _summing(self, field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            from opentelemetry.metrics import Observation

            samples = self.samples()
            if not samples:
                return []
            return [Observation(sum(getattr(sample, field) for sample in samples))]

        return observe

    def _observe_outbox(self, options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        sizes = [s.outbox_reports for s in self.samples() if s.outbox_reports is not None]
        return [Observation(sum(sizes))] if sizes else []

    def _observe_health(self, options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        observations = []
        for sample in self.samples():
            for app, version, resource_type, status in sample.health:
                for candidate in HEALTH_STATUSES:
                    attributes = {
                        "tempest.app_id": app,
                        "tempest.app_version": version,
                        "tempest.resource_type": resource_type,
                        "tempest.health.status": candidate,
                    }
                    observations.append(Observation(int(candidate == status), attributes))
        return observations

    # -- traces -------------------------------------------------------------------------

    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        """Run the task inside its span (the current span while the handler runs)."""
        trace = self._trace
        info = task.info
        waiting = self._waiting_polls.pop(info.task_id, None)
        span = self._tracer.start_span(
            mask(describe(info)),
            kind=trace.SpanKind.CONSUMER,
            attributes=_span_attributes(info),
            start_time=waiting[0] if waiting is not None else None,
        )
        if waiting is not None:
            self._next_span(span, *waiting)
        self._hold(info.task_id, span)
        token = self._context.attach(trace.set_span_in_context(span))
        try:
            report = await super().intercept_task(task, call_next)
        except BaseException as exc:
            self._open.pop(info.task_id, None)
            span.set_attribute("tempest.task.outcome", _failure_outcome(exc))
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
            span.end()
            raise
        finally:
            self._context.detach(token)
        outcome = outcome_of(report)
        span.set_attribute("tempest.task.outcome", outcome)
        if outcome != "ok":
            span.set_status(trace.StatusCode.ERROR, f"the task ended: {outcome}")
        return report  # the span ends once the report is settled

    async def on_poll(self, event: PollEvent) -> None:
        """Count the call; record the `next` span of a task that came with it."""
        await super().on_poll(event)
        if event.outcome != "task" or event.task_id is None:
            return
        end = time.time_ns()
        start = end - int(event.duration * 1e9)
        span = self._open.get(event.task_id)
        if span is not None:
            self._next_span(span, start, end)
            return
        # The task's span has not started yet: its owner runs after this hook.
        if len(self._waiting_polls) >= _MAX_WAITING_POLLS:
            del self._waiting_polls[next(iter(self._waiting_polls))]
        self._waiting_polls[event.task_id] = (start, end)

    async def on_report(self, event: ReportEvent) -> None:
        """Count the attempt; record it as a child of its task's span."""
        await super().on_report(event)
        span = self._open.get(event.task_id)
        if span is None:
            return  # a report sent again from the outbox or the dedup ledger: no span
        trace = self._trace
        end = time.time_ns()
        child = self._tracer.start_span(
            "apps.operations.report",
            context=trace.set_span_in_context(span),
            kind=trace.SpanKind.CLIENT,
            start_time=end - int(event.duration * 1e9),
            attributes={
                "tempest.report.status": event.status,
                "tempest.report.attempt": event.attempt,
                "tempest.outcome": event.outcome,
            },
        )
        if event.error is not None:
            child.set_attribute("error.type", type(event.error).__name__)
        if event.outcome in ("retrying", "rejected", "abandoned"):
            child.set_status(trace.StatusCode.ERROR, event.outcome)
        child.end(end_time=end)
        # A refused ok report is replaced by an error report: not settled yet.
        if event.outcome in _TERMINAL or (event.outcome == "rejected" and event.status == "error"):
            self._open.pop(event.task_id, None)
            span.set_attribute("tempest.report.outcome", event.outcome)
            span.end(end_time=end)

    def unbind(self, runner: ObservedRunner) -> None:
        """Stop observing `runner`; with no runner left, end the spans still open."""
        super().unbind(runner)
        if not self._runners:
            open_spans, self._open = self._open, {}
            self._waiting_polls.clear()
            for span in open_spans.values():
                span.end()

    def _hold(self, task_id: str, span: Span) -> None:
        if len(self._open) >= _MAX_OPEN:
            oldest = next(iter(self._open))
            self._open.pop(oldest).end()
        self._open[task_id] = span

    def _next_span(self, parent: Span, start: int, end: int) -> None:
        # No attributes of its own: its parent, the task's span, has them all.
        trace = self._trace
        child = self._tracer.start_span(
            "apps.operations.next",
            context=trace.set_span_in_context(parent),
            kind=trace.SpanKind.CLIENT,
            start_time=start,
        )
        child.end(end_time=end)


def _failure_outcome(exc: BaseException) -> TaskOutcome:
    import anyio

    return "cancelled" if isinstance(exc, anyio.get_cancelled_exc_class()) else "error"


def _span_attributes(task: TaskInfo) -> dict[str, str]:
    # A task's fields come from the control plane: a secret value sent as its type
    # or action name is masked before it names anything.
    # str(): an operation's name is an `Operation`, which exporters need not know.
    app, version, task_id, resource_type, name = mask_strings(
        (task.app_id, task.version, task.task_id, task.resource_type, str(task.name))
    )
    attributes = {
        "tempest.app_id": app,
        "tempest.app_version": version,
        "tempest.task.id": task_id,
        "tempest.task.kind": task.kind,
        "tempest.resource_type": resource_type,
    }
    attributes["tempest.action" if task.kind == "action" else "tempest.operation"] = name
    return attributes


def _metric_attributes(labels: TaskLabels, outcome: str | None) -> dict[str, str]:
    app, version, resource_type, kind, name = mask_strings(labels)
    attributes = {
        "tempest.app_id": app,
        "tempest.app_version": version,
        "tempest.resource_type": resource_type,
        "tempest.task.kind": kind,
        "tempest.task.name": name,
    }
    if outcome is not None:
        attributes["tempest.task.outcome"] = outcome
    return attributes
