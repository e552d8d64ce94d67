from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import PrometheusMetrics, Runner, options_from_env

from ..running.tempest_app import app as tempest_app

metrics = PrometheusMetrics()  # its own registry: metrics.registry


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncGenerator[None, None]:
    options = options_from_env(hooks=[metrics])
    async with (
        AsyncTempestClient() as client,
        Runner(tempest_app, client, options=options) as runner,
    ):
        api.state.runner = runner
        yield


api = FastAPI(lifespan=lifespan)


@api.get("/livez")
async def livez() -> Response:
    probe = api.state.runner.liveness()
    return Response(
        probe.reason, status_code=probe.status_code, media_type="text/plain"
    )


@api.get("/readyz")
async def readyz() -> Response:
    probe = api.state.runner.readiness()
    return Response(
        probe.reason, status_code=probe.status_code, media_type="text/plain"
    )


@api.get("/metrics")
async def prometheus_metrics() -> Response:
    return Response(
        generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
