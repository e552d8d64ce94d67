from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import Runner, options_from_env

from .tempest_app import app as tempest_app


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncGenerator[None, None]:
    # The client reads TEMPEST_TOKEN and TEMPEST_API_ENDPOINT;
    # options_from_env() reads the TEMPEST_RUNNER_* variables, as app.run()
    # does.
    options = options_from_env()
    async with (
        AsyncTempestClient() as client,
        Runner(tempest_app, client, options=options) as runner,
    ):
        api.state.runner = runner
        yield  # the service runs; the runner serves beside it
    # Leaving the block drained the runner: its running tasks finished and
    # were reported.


api = FastAPI(lifespan=lifespan)


@api.get("/ready")
async def ready(response: Response) -> dict[str, str]:
    state: str = api.state.runner.state
    if state != "running":
        response.status_code = (
            503  # not serving tasks: take this replica out of rotation
        )
    return {"runner": state}
