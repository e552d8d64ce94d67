"""A token rotated in its file while the runner serves: no restart, no task lost."""

from __future__ import annotations

import anyio
import pytest

from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

from .apps import APP_ID, OPTIONS, Tracker, widget_app

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_runner_serves_on_after_its_token_file_is_rotated(backend, tmp_path, monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text("first-SECRET-token\n")
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
    emulator = Emulator(token="first-SECRET-token")

    async def scenario() -> None:
        async with (
            emulator.serve(),
            emulator.client(token=None) as client,  # the token from the file
            Runner(widget_app(Tracker()), client, **OPTIONS) as runner,
        ):
            emulator.enqueue_operation(APP_ID, "v1", "widget", "create", input={"size": 1})
            await emulator.wait_for_reports_async(1, timeout=10)
            # The Secret is updated: the kubelet rewrites the file, Tempest takes the
            # new token only.
            token_file.write_text("second-SECRET-token\n")
            emulator.rotate_token("second-SECRET-token")
            emulator.enqueue_operation(APP_ID, "v1", "widget", "create", input={"size": 2})
            await emulator.wait_for_reports_async(2, timeout=10)
            assert runner.readiness().ok

    anyio.run(scenario, backend=backend)
    reported = emulator.reported()
    assert len(reported) == 2
    assert [[r["status"] for r in emulator.reports(task_id)] for task_id in reported] == [
        ["ok"],
        ["ok"],
    ]
