"""Hostile input: secret values sent as a task's resource type, action name, external
id and list cursor reach the runner's log lines, spans and metric labels — masked.

The real runner serves a real app against the real emulator on 127.0.0.1, with the
OpenTelemetry and Prometheus hooks, on asyncio, uvloop and trio. Every task carries
the secret as a `secret` environment variable (list tasks carry none: there the
cursor is the app's `SecretStr` setting)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel, SecretStr

import tempest_sdk as tempest
from tempest_sdk._backoff import Backoff
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import OpenTelemetry, PrometheusMetrics, Runner

from ..runner.observability import wait_until
from .conftest import BACKENDS, SECRET, SETTINGS_SECRET, Capture

OPTIONS: dict[str, Any] = {
    "retry_backoff": Backoff(base=0.01, cap=0.1, rng=random.Random(3)),
    "poll_interval_min": 0.005,
    "poll_interval_max": 0.05,
    "health_interval": 3600.0,
    "blocked_loop_warning": None,
    "flush_timeout": 5.0,
}


class Props(BaseModel):
    name: str = "x"


class Settings(BaseModel):
    token: SecretStr


def _app() -> tempest.App:
    app = tempest.App("hostile", "v1")

    @app.lifespan
    async def lifespan(app: tempest.App) -> AsyncIterator[Settings]:
        yield Settings(token=SecretStr(SETTINGS_SECRET))

    thing = app.resource("thing", display_name="T", description="T.", properties=Props)

    @thing.read
    async def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        raise tempest.ResourceNotFoundError(f"no thing {resource.external_id}")

    @thing.list
    async def list_things(ctx: tempest.Context, cursor: str) -> tempest.Page:
        raise ValueError(f"bad cursor {cursor!r}")

    @thing.action("rebuild", display_name="Rebuild", description="Rebuild.")
    async def rebuild(ctx: tempest.Context, resource: tempest.Resource) -> None:
        return None

    return app


def _enqueue(emulator: Emulator) -> list[str]:
    env = [{"name": "API_KEY", "value": SECRET, "type": "secret"}]
    return [
        emulator.enqueue_operation(
            "hostile", "v1", SECRET, "create", input={}, environment_variables=env
        ),
        emulator.enqueue_action(
            "hostile", "v1", "thing", SECRET, external_id="t1", environment_variables=env
        ),
        emulator.enqueue_operation(
            "hostile", "v1", "thing", "read", external_id=SECRET, environment_variables=env
        ),
        emulator.enqueue_list("hostile", "v1", "thing", next=SETTINGS_SECRET),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_secret_values_as_type_action_external_id_and_cursor_never_show(
    backend: tuple[str, dict[str, Any]], capture: Capture
) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    registry = CollectorRegistry()
    hooks = [
        OpenTelemetry(tracer_provider, MeterProvider(metric_readers=[reader])),
        PrometheusMetrics(registry),
    ]
    found: dict[str, Any] = {}

    async def scenario() -> None:
        emulator = Emulator()
        async with (
            emulator.serve(),
            emulator.client() as client,
            Runner(_app(), client, hooks=hooks, **OPTIONS) as runner,
        ):
            ids = _enqueue(emulator)
            await emulator.wait_for_reports_async(len(ids))
            await wait_until(lambda: runner.pending_reports == 0, "every report settled")
            found["reports"] = [emulator.reports(task_id) for task_id in ids]
            found["metrics"] = await anyio.to_thread.run_sync(reader.get_metrics_data)
            found["scrape"] = generate_latest(registry).decode()

    name, options = backend
    anyio.run(scenario, backend=name, backend_options=options)
    spans = exporter.get_finished_spans()
    assert len([s for s in spans if s.kind.name == "CONSUMER"]) == 4
    roads = {
        "logs": capture.output(),
        "span names and attributes": json.dumps(
            [[span.name, dict(span.attributes or {})] for span in spans]
        ),
        "OpenTelemetry metrics": found["metrics"].to_json(),
        "Prometheus scrape": found["scrape"],
    }
    for road, text in roads.items():
        for value in (SECRET, SETTINGS_SECRET):
            leaked = value in text
            assert not leaked, f"a secret reached the {road}"
    assert "tempest_sdk.runner" in roads["logs"]
    assert "thing" in roads["span names and attributes"]
