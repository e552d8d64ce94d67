"""What the metrics and tracing hooks cost per task, against no hooks in the same run.

Two measurements, each a median of interleaved rounds:

- the runner against the emulator (in its own process, as in bench_runner.py) with a
  no-op handler at concurrency 16: tasks per second with no hooks, with
  `PrometheusMetrics`, with `OpenTelemetry` (the SDK's providers: each span handed
  to an exporter that drops it, metrics to an in-memory reader), and with
  both; shown as a ratio of the no-hook rate and as microseconds added per task;
- the hooks alone, without HTTP: one task's events (`intercept_task`, `on_poll`,
  `on_report`) through the hooks, in microseconds of CPU per task, so the cost is
  seen apart from the network calls that dominate the first figure.

    python benchmarks/bench_observability.py            # about a minute
    python benchmarks/bench_observability.py --quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from bench_runner import APP, EmulatorProcess, runner_rate
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from tempest_sdk.models import ExecuteResourceActionResponse, TaskReport, parse_task
from tempest_sdk.runner import (
    InterceptedTask,
    Interceptor,
    OpenTelemetry,
    PollEvent,
    PrometheusMetrics,
    ReportEvent,
    TaskInfo,
)
from tempest_sdk.runner._hooks import run_chain


class DroppingExporter(SpanExporter):
    """Receives every span, as an OTLP exporter would, and keeps none."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def otel_hook() -> tuple[OpenTelemetry, Callable[[], None]]:
    tracer_provider = TracerProvider()
    # Each span exported as it ends, on the loop's thread: its whole cost is counted
    # (a batch processor would move the export, here a no-op, to a thread).
    tracer_provider.add_span_processor(SimpleSpanProcessor(DroppingExporter()))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])

    def close() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return OpenTelemetry(tracer_provider, meter_provider), close


def hook_sets() -> dict[str, tuple[list[Interceptor], Callable[[], None]]]:
    otel, close_otel = otel_hook()
    otel_both, close_both = otel_hook()
    return {
        "no hooks": ([], lambda: None),
        "PrometheusMetrics": ([PrometheusMetrics()], lambda: None),
        "OpenTelemetry": ([otel], close_otel),
        "both": ([PrometheusMetrics(), otel_both], close_both),
    }


async def through_runner(emulator: EmulatorProcess, tasks: int, rounds: int) -> dict[str, float]:
    versions = iter(f"v{i}" for i in range(1, 1000))
    rates: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, (hooks, close) in hook_sets().items():
            rate, _ = await runner_rate(
                emulator, next(versions), tasks, 0.0, concurrency=16, hooks=hooks
            )
            close()
            rates.setdefault(label, []).append(rate)
    return {label: statistics.median(values) for label, values in rates.items()}


async def hooks_alone(tasks: int, rounds: int) -> dict[str, float]:
    """Microseconds of one task's events through each hook set, no I/O."""
    response = ExecuteResourceActionResponse(output={})
    # Each task's own report, made before the clock starts: the chain sends only a
    # report of its task.
    reports = [TaskReport.ok(f"t{i}", response) for i in range(tasks)]
    owner = {"email": "a@example.com", "name": "A", "type": "user"}
    resource = {"type": "thing", "external_id": "x", "display_name": "x"}
    task = parse_task(
        {
            "task_id": "t",
            "task": {
                "request_type": "execute_resource_action",
                "action": "work",
                "resource": resource,
            },
            "metadata": {
                "owners": [owner],
                "author": owner,
                "project_id": "p",
                "project_name": "P",
            },
        }
    )

    current = 0

    async def call_next() -> TaskReport:
        return reports[current]

    results: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, (hooks, close) in hook_sets().items():

            class Bound:
                apps = ()

            for hook in hooks:
                if isinstance(hook, PrometheusMetrics | OpenTelemetry):
                    hook.bind(Bound())  # type: ignore[arg-type]
            started = time.process_time()
            for i in range(tasks):
                current = i
                task_id = f"t{i}"
                info = TaskInfo(APP, "v1", task_id, "action", "thing", "work")
                poll = PollEvent(APP, "v1", "task", 0.001, task_id)
                acked = ReportEvent(task_id, "ok", "acked", 0, 0.001)
                for hook in hooks:
                    await hook.on_poll(poll)
                await run_chain(hooks, InterceptedTask.of(info, task), call_next)
                for hook in hooks:
                    await hook.on_report(acked)
            elapsed = time.process_time() - started
            close()
            results.setdefault(label, []).append(elapsed / tasks * 1e6)
    return {label: statistics.median(values) for label, values in results.items()}


async def main(args: argparse.Namespace) -> int:
    scale = 0.25 if args.quick else 1.0
    rounds = 1 if args.quick else 3
    tasks = int(2000 * scale)
    emulator = EmulatorProcess()
    try:
        print(
            f"bench_observability: emulator in a separate process at {emulator.url}; "
            f"Python {sys.version.split()[0]}; median of {rounds} interleaved round(s)"
        )
        print(f"\nRunner, no-op handler, concurrency 16, {tasks} tasks (tasks/s):")
        rates = await through_runner(emulator, tasks, rounds)
        base = rates["no hooks"]
        for label, rate in rates.items():
            extra = (1 / rate - 1 / base) * 1e6
            note = (
                "" if label == "no hooks" else f"{rate / base:.2f}x no hooks, {extra:+.0f} us/task"
            )
            print(f"  {label:<20} {rate:>10.1f}  {note}")
        print(f"  metrics+tracing hooks: {rates['both'] / base:.2f}x the rate without hooks")
    finally:
        emulator.close()
    print(f"\nThe hooks alone, one task's events, no I/O ({tasks * 4} tasks; CPU us/task):")
    alone = await hooks_alone(tasks * 4, rounds)
    for label, micros in alone.items():
        print(f"  {label:<20} {micros:>10.1f}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks, one round")
    sys.exit(anyio.run(main, parser.parse_args()))
