from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
)
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.runner import OpenTelemetry, PrometheusMetrics

app = tempest.App("status-pages", "v1")


class PageProperties(BaseModel):
    status: str


page = app.resource(
    "page",
    display_name="Status page",
    description="A public status page.",
    properties=PageProperties,
)


@app.lifespan
async def status_api() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=os.environ["STATUS_API_URL"], timeout=10.0
    ) as client:
        # Each request becomes a span under the task's span and carries the
        # trace on (the `traceparent` header), so the status API's spans join
        # it too.
        HTTPXClientInstrumentor.instrument_client(client)
        yield client


@page.read
async def read(
    resource: tempest.Resource, status_api: httpx.AsyncClient
) -> tempest.Resource:
    answer = await status_api.get(f"/pages/{resource.external_id}")
    answer.raise_for_status()
    return tempest.Resource(
        external_id=resource.external_id,
        display_name=resource.display_name,
        properties={"status": answer.text},
    )


def setup_telemetry() -> None:
    """Where traces and metrics go: the console here, OTLP in production."""
    resource = Resource.create({"service.name": "status-pages"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(ConsoleSpanExporter())
    )
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(), export_interval_millis=60_000
    )
    metrics.set_meter_provider(
        MeterProvider(resource=resource, metric_readers=[reader])
    )


if __name__ == "__main__":
    setup_telemetry()
    # With TEMPEST_RUNNER_OPERATIONS_ADDRESS=0.0.0.0:8081, the runner serves
    # /livez, /readyz and /metrics (this hook's metrics) on port 8081.
    # OpenTelemetry() uses the global providers set above.
    app.run(hooks=[PrometheusMetrics(), OpenTelemetry()])
