"""The reliability suite's main scenarios again, on asyncio with uvloop: the event loop that
`uvicorn[standard]` runs by default, where the client must work as on plain asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anyio
import pytest

from tempest_sdk.emulator import Emulator

from . import test_reliability as suite

pytestmark = pytest.mark.integration
uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed")


def on_uvloop(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario, backend="asyncio", backend_options={"use_uvloop": True})


def test_the_default_client_answers_on_uvloop():
    async def scenario() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        emulator = Emulator()
        async with emulator.serve(), emulator.client() as client:
            assert await client.next_task("nobody", "v1") is None
        assert emulator.request_counts == {("apps.operations.next", 204): 1}

    on_uvloop(scenario)


def test_500_mixed_tasks_under_faults_on_uvloop():
    on_uvloop(suite.test_500_mixed_tasks_under_faults_are_each_reported_once_and_right)


def test_shutdown_with_32_tasks_in_flight_on_uvloop():
    on_uvloop(suite.test_shutdown_with_32_tasks_in_flight_drains_them_and_fetches_nothing_new)


def test_misbehaving_handlers_on_uvloop():
    on_uvloop(suite.test_misbehaving_handlers_get_the_right_error_and_others_keep_being_served)
