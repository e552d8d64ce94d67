"""Prometheus metrics of the runner (the `prometheus` extra: prometheus-client).

Counters and the duration histogram are updated by the hook's events; the gauges
are read from the observed runners' state at each scrape (a custom collector), so
they cost nothing between scrapes. Metric names and labels are listed in
`docs/observability.md`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Literal, cast

from .._secrets import mask_strings
from ._hooks import Interceptor
from ._observe import (
    DURATION_BUCKETS,
    HEALTH_STATUSES,
    Observer,
    RunnerSample,
    TaskLabels,
    TaskOutcome,
    TaskSeries,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

__all__ = ["PrometheusMetrics", "endpoint_metrics", "import_prometheus_client"]

_TASK_LABELS = ("app", "version", "resource_type", "kind", "name")
_INSTALL = "pip install 'tempest-sdk[prometheus]'"


def import_prometheus_client() -> None:
    """Import prometheus-client, or raise an ImportError saying which extra to install."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ImportError(
            f"Prometheus metrics need the prometheus-client package: {_INSTALL}"
        ) from None


def endpoint_metrics(
    hooks: tuple[Interceptor, ...],
) -> tuple[tuple[Interceptor, ...], CollectorRegistry | None]:
    """What the operations endpoint's `/metrics` serves: the registry of the first
    `PrometheusMetrics` among `hooks`; with none, one of its own added to them, so that
    `/metrics` shows the runner's metrics whenever prometheus-client is installed
    (without it, None: `/metrics` answers 501 naming the extra to install)."""
    for hook in hooks:
        if isinstance(hook, PrometheusMetrics):
            return hooks, hook.registry
    try:
        metrics = PrometheusMetrics()
    except ImportError:
        return hooks, None
    return (*hooks, metrics), metrics.registry


class PrometheusMetrics(Observer):
    """A runner hook that exports the runner's metrics to a Prometheus registry.

    Pass it in `hooks=` (one instance may serve several runners; the gauges then sum
    over them). The operations endpoint's `/metrics` serves its registry.

    Args:
        registry: where the metrics are registered; default: a registry of this hook's
            own (`metrics.registry`). Pass `prometheus_client.REGISTRY` to export them
            beside the process's other metrics.

    Raises:
        ImportError: prometheus-client is not installed (install the `prometheus` extra).
        ValueError: the registry already holds tempest_sdk's metrics.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        import_prometheus_client()
        from prometheus_client import CollectorRegistry, Counter, Histogram

        super().__init__()
        self.registry: CollectorRegistry = registry if registry is not None else CollectorRegistry()
        collector = _StateCollector(self)
        try:
            self._tasks = Counter(
                "tempest_tasks",
                "Tasks run, by how they ended (ok, error, timeout, cancelled).",
                (*_TASK_LABELS, "outcome"),
                registry=self.registry,
            )
            self._durations = Histogram(
                "tempest_task_duration_seconds",
                "Seconds a task's handler took (validation and hooks inside this one included).",
                _TASK_LABELS,
                buckets=DURATION_BUCKETS,
                registry=self.registry,
            )
            self._waits = Histogram(
                "tempest_task_limit_wait_seconds",
                "Seconds a task waited for its resource type's or action's limits before it "
                "started (tasks that waited only).",
                _TASK_LABELS,
                buckets=DURATION_BUCKETS,
                registry=self.registry,
            )
            self._polls = Counter(
                "tempest_polls",
                "apps.operations.next calls, by outcome (task, empty, duplicate, malformed, "
                "error).",
                ("app", "version", "outcome"),
                registry=self.registry,
            )
            self._reports = Counter(
                "tempest_report_attempts",
                "apps.operations.report attempts, by report status and outcome (acked, "
                "gone, rejected, retrying, abandoned).",
                ("status", "outcome"),
                registry=self.registry,
            )
            self._retries = Counter(
                "tempest_retries",
                "Failed calls that are tried again, by call (next, report).",
                ("call",),
                registry=self.registry,
            )
            # A duck-typed collector: subclassing prometheus_client's would import it
            # with this module.
            self.registry.register(cast("Collector", collector))
        except ValueError as exc:
            raise ValueError(
                f"this registry already holds tempest_sdk's metrics ({exc}): pass the same "
                "PrometheusMetrics to every runner, or give each its own registry"
            ) from None

    def __repr__(self) -> str:
        return f"<PrometheusMetrics runners={len(self._runners)}>"

    def _task_series(self, labels: TaskLabels, outcome: TaskOutcome) -> TaskSeries:
        # Bounded labels already (declared names or `other`); masked all the same,
        # once per series, so that no secret value ever names one.
        masked = mask_strings(labels)
        count = self._tasks.labels(*masked, outcome).inc
        observe = self._durations.labels(*masked).observe

        def record(seconds: float) -> None:
            count()
            observe(seconds)

        return record

    def _task_waited(self, labels: TaskLabels, seconds: float) -> None:
        self._waits.labels(*mask_strings(labels)).observe(seconds)

    def _polled(self, app: str, version: str, outcome: str) -> None:
        self._polls.labels(app, version, outcome).inc()

    def _reported(self, status: str, outcome: str) -> None:
        self._reports.labels(status, outcome).inc()

    def _retried(self, call: Literal["next", "report"]) -> None:
        self._retries.labels(call).inc()


class _StateCollector:
    """The gauges, read from the observed runners at each scrape."""

    def __init__(self, observer: Observer) -> None:
        self._observer = observer

    def describe(self) -> Iterable[Metric]:
        # The names, so that the registry refuses a second set.
        return self._families([])

    def collect(self) -> Iterable[Metric]:
        samples = self._observer.samples()
        if not samples:
            return []  # no runner: no state to show
        return self._families(samples)

    def _families(self, samples: list[RunnerSample]) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        def gauge(name: str, text: str, value: float | None) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, text)
            if value is not None:
                family.add_metric([], value)
            return family

        observed = bool(samples)
        yield gauge(
            "tempest_tasks_in_flight",
            "Tasks whose handler runs now.",
            sum(s.in_flight for s in samples) if observed else None,
        )
        yield gauge(
            "tempest_task_slots",
            "Tasks that may be in flight at once (the concurrency option).",
            sum(s.slots for s in samples) if observed else None,
        )
        yield gauge(
            "tempest_reports_pending",
            "Finished tasks whose report is queued or being delivered.",
            sum(s.pending_reports for s in samples) if observed else None,
        )
        outboxes = [s.outbox_reports for s in samples if s.outbox_reports is not None]
        yield gauge(
            "tempest_outbox_reports",
            "Reports kept in the on-disk outbox until acknowledged.",
            sum(outboxes) if outboxes else None,
        )
        yield gauge(
            "tempest_retry_budget_tokens",
            "Tokens left in the retry budget (100 when full; quick retries stop below 2).",
            sum(s.retry_budget for s in samples) if observed else None,
        )
        health = GaugeMetricFamily(
            "tempest_health_status",
            "The last health check of each resource type: 1 for its status, 0 for the others.",
            labels=("app", "version", "resource_type", "status"),
        )
        for sample in samples:
            for app, version, resource_type, status in sample.health:
                for candidate in HEALTH_STATUSES:
                    value = 1.0 if candidate == status else 0.0
                    health.add_metric([app, version, resource_type, candidate], value)
        yield health
        blocked = CounterMetricFamily(
            "tempest_event_loop_blocked_seconds",
            "Seconds the event loop was blocked (each block of at least the threshold).",
        )
        if observed:
            blocked.add_metric([], sum(s.blocked_seconds for s in samples))
        yield blocked
        written = CounterMetricFamily(
            "tempest_records_written",
            "Tasks recorded with their reports (record=), each a line of the recording.",
        )
        dropped = CounterMetricFamily(
            "tempest_records_dropped",
            "Records dropped because the disk could not keep up (tasks are never dropped).",
        )
        if observed:
            written.add_metric([], sum(s.records_written for s in samples))
            dropped.add_metric([], sum(s.records_dropped for s in samples))
        yield written
        yield dropped
