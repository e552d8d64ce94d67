"""The feature-flags app served from a FastAPI service, under uvicorn.

The service's lifespan runs the `tempest_sdk` runner beside its routes: the app's own
lifespan (settings, the one HTTP client to Flagpole) is entered by the runner. The
routes are the operator's: liveness, readiness, and what the runner is doing.

    python flags_service.py --port 8000 --loop uvloop    # exits 0 after a drain on SIGTERM
    uvicorn flags_service:api --loop uvloop              # the same; exits 143 on SIGTERM
"""

# pyright: strict

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from flags_app import app as flags_app

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import Runner, options_from_env

logger = logging.getLogger("feature_flags.service")


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncGenerator[dict[str, Runner]]:
    """Serve the app for as long as the service runs; drain it when the service stops."""
    loop = asyncio.get_running_loop()
    logger.info("event loop: %s.%s", type(loop).__module__, type(loop).__qualname__)
    # The client reads TEMPEST_TOKEN (or _FILE) and TEMPEST_API_ENDPOINT; the options,
    # TEMPEST_RUNNER_*. Leaving the block drains the runner and closes the app's client.
    async with (
        AsyncTempestClient() as client,
        Runner(flags_app, client, options=options_from_env()) as runner,
    ):
        yield {"runner": runner}


api = FastAPI(title="feature-flags", lifespan=lifespan)


@api.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@api.get("/readyz")
async def readyz(request: Request, response: Response) -> dict[str, str]:
    runner: Runner = request.state.runner
    if runner.state != "running":
        response.status_code = 503  # not taking tasks: out of rotation
    return {"runner": runner.state}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service under uvicorn until SIGTERM or Ctrl-C."""
    import uvicorn

    parser = argparse.ArgumentParser(description="The feature-flags app in a FastAPI service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--loop", default="auto", help="uvicorn's loop: auto, asyncio, uvloop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # uvicorn raises the signal it stopped on again once it has shut down (so that
    # `uvicorn flags_service:api` exits 143); here a stop by signal is the normal end,
    # drained by the lifespan, so the raised signal is only noted.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: None)
    uvicorn.run(api, host=args.host, port=args.port, loop=args.loop, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
