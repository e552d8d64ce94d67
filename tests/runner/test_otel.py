"""OpenTelemetry: spans and metrics of a known workload, read from the SDK's in-memory
exporter and reader; the runner is the real one, against the real emulator.

The handlers call an HTTP server of their own on 127.0.0.1 through httpx clients
instrumented by opentelemetry-instrumentation-httpx: their calls must be children of
the task's span, from an async handler and from a plain one in a worker thread, and
the server must receive the task's trace in the `traceparent` header.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import OpenTelemetry, Runner

from .observability import (
    APP_ID,
    BACKEND_IDS,
    BACKENDS,
    INPUT,
    OPTIONS,
    SECRET,
    VERSION,
    Widget,
    enqueue_workload,
    run_lists,
    run_on,
    shop_app,
    shop_runner,
    wait_until,
)


class _Recorder(BaseHTTPRequestHandler):
    """Answers 200 to any GET and records its path and `traceparent` header."""

    server: RecordingServer

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("traceparent", "")))
        body = b"ok"
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    def log_message(self, format: str, *args: Any) -> None:
        pass


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.seen: list[tuple[str, str]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def backend_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def providers() -> tuple[TracerProvider, InMemorySpanExporter, MeterProvider, InMemoryMetricReader]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return tracer_provider, exporter, MeterProvider(metric_readers=[reader]), reader


def points(data: MetricsData, name: str) -> list[Any]:
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def attribute_values(span: ReadableSpan) -> list[str]:
    return [str(v) for v in (span.attributes or {}).values()]


@pytest.mark.parametrize("backend", BACKENDS[:2], ids=BACKEND_IDS[:2])
def test_spans_and_metrics_of_a_known_workload(backend, backend_server):
    tracer_provider, exporter, meter_provider, reader = providers()
    ids: dict[str, str] = {}
    during: dict[str, Any] = {}
    current: dict[str, Any] = {}

    async def on_create(ctx: tempest.Context) -> None:
        current["create"] = trace.get_current_span().get_span_context()
        async with httpx.AsyncClient() as client:
            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=tracer_provider)
            (await client.get(backend_server.url + "/from-create")).raise_for_status()

    def on_delete(ctx: tempest.Context) -> None:
        # A plain handler: this runs in a worker thread.
        current["delete"] = trace.get_current_span().get_span_context()
        with httpx.Client() as client:
            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=tracer_provider)
            client.get(backend_server.url + "/from-delete").raise_for_status()

    async def scenario() -> None:
        emulator = Emulator()
        emulator.inject("apps.operations.report", status=503, times=1)
        hook = OpenTelemetry(tracer_provider, meter_provider)
        async with (
            emulator.serve(),
            emulator.client() as client,
            Runner(
                shop_app(on_create=on_create, on_delete=on_delete),
                client,
                hooks=[hook],
                concurrency=4,
                **OPTIONS,
            ) as runner,
        ):
            ids.update(enqueue_workload(emulator))
            await emulator.wait_for_reports_async(len(ids))
            await wait_until(lambda: runner.pending_reports == 0, "every report settled")
            await wait_until(lambda: len(exporter.get_finished_spans()) >= 20, "the spans")
            during["metrics"] = await anyio.to_thread.run_sync(reader.get_metrics_data)

    run_on(backend, scenario)
    spans = exporter.get_finished_spans()
    tasks = {s.attributes["tempest.task.id"]: s for s in spans if s.kind is trace.SpanKind.CONSUMER}
    assert sorted(tasks) == sorted(ids.values())
    by_name = {name: tasks[task_id] for name, task_id in ids.items()}
    assert {name: span.name for name, span in by_name.items()} == {
        "create": "create widget",
        "update": "update widget",
        "read": "read widget",
        "delete": "delete widget",
        "list": "list widget",
        "rebuild": "action rebuild on widget",
    }
    assert dict(by_name["rebuild"].attributes) == {
        "tempest.app_id": APP_ID,
        "tempest.app_version": VERSION,
        "tempest.task.id": ids["rebuild"],
        "tempest.task.kind": "action",
        "tempest.resource_type": "widget",
        "tempest.action": "rebuild",
        "tempest.task.outcome": "ok",
        "tempest.report.outcome": "acked",
    }
    assert by_name["create"].attributes["tempest.operation"] == "create"
    outcomes = {name: span.attributes["tempest.task.outcome"] for name, span in by_name.items()}
    assert outcomes == {
        "create": "ok",
        "update": "error",
        "read": "timeout",
        "delete": "ok",
        "list": "ok",
        "rebuild": "ok",
    }
    assert by_name["update"].status.status_code is trace.StatusCode.ERROR
    assert by_name["create"].status.status_code is trace.StatusCode.UNSET

    for name, task_span in by_name.items():
        assert task_span.parent is None, name  # each task is its own trace
        children = [s for s in spans if s.parent and s.parent.span_id == task_span.context.span_id]
        calls = sorted(s.name for s in children if s.name.startswith("apps.operations."))
        assert calls[0] == "apps.operations.next", name
        assert set(calls[1:]) == {"apps.operations.report"}, name
        for child in children:
            assert child.context.trace_id == task_span.context.trace_id
            # Children lie within their task's span.
            assert task_span.start_time <= child.start_time <= child.end_time
            assert child.end_time <= task_span.end_time
    retried = [s for s in spans if s.attributes.get("tempest.outcome") == "retrying"]
    assert len(retried) == 1
    assert retried[0].attributes["error.type"] == "InternalServerError"
    assert retried[0].status.status_code is trace.StatusCode.ERROR

    # The handlers' own HTTP calls are children of their task's span, from the event
    # loop and from a worker thread, and carry the trace to the server they call.
    for name in ("create", "delete"):
        task_span = by_name[name]
        assert current[name].span_id == task_span.context.span_id
        http = [
            s
            for s in spans
            if s.kind is trace.SpanKind.CLIENT
            and s.parent is not None
            and s.parent.span_id == task_span.context.span_id
            and not s.name.startswith("apps.operations.")
        ]
        assert [s.name for s in http] == ["GET"], name
        traceparent = dict(backend_server.seen)[f"/from-{name}"]
        assert traceparent.split("-")[1] == format(task_span.context.trace_id, "032x")

    # Never a secret or an input value in any span.
    for span in spans:
        for text in attribute_values(span):
            assert SECRET not in text and INPUT not in text, span.name

    metrics = during["metrics"]
    counted = {
        (p.attributes["tempest.task.name"], p.attributes["tempest.task.outcome"]): p.value
        for p in points(metrics, "tempest.tasks")
    }
    assert counted == {
        ("create", "ok"): 1,
        ("update", "error"): 1,
        ("read", "timeout"): 1,
        ("delete", "ok"): 1,
        ("list", "ok"): 1,
        ("rebuild", "ok"): 1,
    }
    durations = {
        p.attributes["tempest.task.name"]: p for p in points(metrics, "tempest.task.duration")
    }
    assert durations["read"].count == 1 and durations["read"].sum >= 0.05
    assert list(durations["read"].explicit_bounds)[-1] == 300.0
    polls = {p.attributes["tempest.outcome"]: p.value for p in points(metrics, "tempest.polls")}
    assert polls["task"] == 6
    reports = {
        (p.attributes["tempest.report.status"], p.attributes["tempest.outcome"]): p.value
        for p in points(metrics, "tempest.report.attempts")
    }
    assert reports[("ok", "acked")] == 4 and reports[("error", "acked")] == 2
    assert sum(v for (_, outcome), v in reports.items() if outcome == "retrying") == 1
    assert [p.value for p in points(metrics, "tempest.retries")] == [1]
    assert [p.value for p in points(metrics, "tempest.tasks.in_flight")] == [0]
    assert [p.value for p in points(metrics, "tempest.task.slots")] == [4]
    assert [p.value for p in points(metrics, "tempest.reports.pending")] == [0]
    assert points(metrics, "tempest.outbox.reports") == []  # no outbox
    assert 97 <= points(metrics, "tempest.retry_budget.tokens")[0].value <= 100
    health = {
        p.attributes["tempest.health.status"]: p.value
        for p in points(metrics, "tempest.health.status")
    }
    assert health == {"healthy": 0, "degraded": 1, "disrupted": 0}
    for name in ("tempest.tasks", "tempest.task.duration", "tempest.polls"):
        for point in points(metrics, name):
            for text in map(str, point.attributes.values()):
                assert text not in ids.values() and SECRET not in text and INPUT not in text


@pytest.mark.parametrize("backend", BACKENDS[:2], ids=BACKEND_IDS[:2])
def test_a_task_cancelled_at_shutdown_ends_its_span_as_cancelled(backend):
    tracer_provider, exporter, meter_provider, reader = providers()
    counted: dict[str, Any] = {}

    async def scenario() -> None:
        emulator = Emulator()
        app = tempest.App(APP_ID, VERSION)
        widget = app.resource(
            "widget", display_name="Widget", description="A widget.", properties=Widget
        )
        started = anyio.Event()

        @widget.create
        async def create(ctx: tempest.Context) -> tempest.Resource:
            started.set()
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        hook = OpenTelemetry(tracer_provider, meter_provider)
        async with emulator.serve(), emulator.client() as client:
            runner = Runner(app, client, hooks=[hook], **OPTIONS)
            async with anyio.create_task_group() as group:
                group.start_soon(runner.run)
                await runner.ready()
                emulator.enqueue_operation(APP_ID, VERSION, "widget", "create")
                await started.wait()
                await runner.shutdown(grace=0.05)
            assert len(emulator.reported()) == 1  # reported as cancelled
        counted["tasks"] = points(reader.get_metrics_data(), "tempest.tasks")

    run_on(backend, scenario)
    [span] = exporter.get_finished_spans()[-1:]
    assert span.name == "create widget"
    assert span.attributes["tempest.task.outcome"] == "cancelled"
    assert span.status.status_code is trace.StatusCode.ERROR
    [point] = counted["tasks"]
    assert point.attributes["tempest.task.outcome"] == "cancelled"


async def test_without_providers_it_uses_the_global_ones_and_tasks_still_run():
    hook = OpenTelemetry()  # the API's no-op providers, until an SDK sets global ones
    emulator = Emulator()
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(shop_app(), client, hooks=[hook], **OPTIONS),
    ):
        emulator.enqueue_list(APP_ID, VERSION, "widget")
        [task_id] = await emulator.wait_for_reports_async(1)
    assert emulator.reports(task_id)[0]["status"] == "ok"
    assert hook._open == {}


async def test_recording_counts_are_observed(tmp_path: Path):
    tracer_provider, _, meter_provider, reader = providers()
    hook = OpenTelemetry(tracer_provider, meter_provider)
    emulator = Emulator()
    async with shop_runner(emulator, hooks=[hook], record=tmp_path / "t.jsonl") as runner:
        await run_lists(emulator, 2)
        await wait_until(lambda: runner.sample().records_written == 2, "2 records written")
        metrics = reader.get_metrics_data()
    assert metrics is not None
    assert [p.value for p in points(metrics, "tempest.records.written")] == [2]
    assert [p.value for p in points(metrics, "tempest.records.dropped")] == [0]
