"""The API token is a secret like the others: a runner that builds its client from the
environment masks it (and a token re-read from TEMPEST_TOKEN_FILE) in every logger's
records, text and JSON; a client built by hand masks it only when asked."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

import tempest_sdk as tempest
from tempest_sdk._secrets import mask
from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

from ..runner.fakes import wait_until
from .conftest import Capture

TOKEN = "tk-" + "Ab3Cd4" * 4
ROTATED = "tk-" + "Ef5Gh6" * 4


def talking_app(said: list[str]) -> tempest.App:
    """An app whose handler logs, on its own logger, what it was told (a careless one)."""
    app = tempest.App("talker", "v1")
    thing = app.resource("thing", description="d", properties={"type": "object"})

    @thing.create
    async def create(ctx: tempest.Context) -> tempest.Resource:
        for line in said:
            logging.getLogger("talker").warning("calling back with %s", line)
        return tempest.Resource(external_id="t1")

    return app


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_runners_own_client_masks_its_token_in_every_log(
    backend: str, capture: Capture, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    emulator = Emulator(token=TOKEN)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    said = [f"Bearer {TOKEN}"]
    app = talking_app(said)
    with emulator.serve_in_thread():
        monkeypatch.setenv("TEMPEST_API_ENDPOINT", emulator.url)
        monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
        monkeypatch.delenv("TEMPEST_TOKEN", raising=False)

        async def scenario() -> None:
            runner = Runner(app, health_interval=3600.0, blocked_loop_warning=None)
            async with anyio.create_task_group() as group:
                group.start_soon(runner.run)
                await runner.ready()
                emulator.enqueue_operation("talker", "v1", "thing", "create")
                await wait_until(lambda: runner.delivered == 1, "the first report")
                # The Secret rotates: the runner's client reads the file again.
                token_file.write_text(ROTATED)
                emulator.rotate_token(ROTATED)
                said.append(f"Bearer {ROTATED}")
                emulator.enqueue_operation("talker", "v1", "thing", "create")
                await wait_until(lambda: runner.delivered == 2, "the second report")
                await runner.shutdown()

        anyio.run(scenario, backend=backend)
    output = capture.output()
    assert "calling back with Bearer **********" in output
    assert TOKEN not in output and ROTATED not in output


def test_a_client_built_by_hand_masks_its_token_only_when_asked() -> None:
    plain = "tk-" + "Ij7Kl8" * 4
    anyio.run(AsyncTempestClient(plain, endpoint="http://127.0.0.1:9/api/v1").aclose)
    assert mask(f"x {plain}") == f"x {plain}"  # a local emulator's token stays readable
    asked = "tk-" + "Mn9Op0" * 4
    client = AsyncTempestClient(asked, endpoint="http://127.0.0.1:9/api/v1", mask_token=True)
    assert mask(f"x {asked}") == "x **********"
    anyio.run(client.aclose)  # closing releases it
    assert mask(f"x {asked}") == f"x {asked}"
