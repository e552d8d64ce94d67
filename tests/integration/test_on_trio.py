"""The reliability suite's main scenarios again, on trio: the runner is anyio code, and
its client uses httpx's own transport there (aiohttp runs on asyncio only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import httpx
import pytest

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.emulator import Emulator

from . import test_reliability as suite

pytestmark = pytest.mark.integration
trio = pytest.importorskip("trio", reason="trio is not installed")


def on_trio(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario, backend="trio")


def test_the_client_uses_httpx_own_transport_on_trio():
    async def scenario() -> None:
        emulator = Emulator()
        async with emulator.serve(), emulator.client() as client:
            assert isinstance(client, AsyncTempestClient)
            assert await client.next_task("nobody", "v1") is None
            assert type(client._own) is httpx.AsyncHTTPTransport

    on_trio(scenario)


def test_500_mixed_tasks_under_faults_on_trio():
    on_trio(suite.test_500_mixed_tasks_under_faults_are_each_reported_once_and_right)


def test_shutdown_with_32_tasks_in_flight_on_trio():
    on_trio(suite.test_shutdown_with_32_tasks_in_flight_drains_them_and_fetches_nothing_new)


def test_misbehaving_handlers_on_trio():
    on_trio(suite.test_misbehaving_handlers_get_the_right_error_and_others_keep_being_served)
