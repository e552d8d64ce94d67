"""The connection pool follows `max_connections=` / `TEMPEST_MAX_CONNECTIONS` on every
transport the clients build: httpx-aiohttp's (asyncio, uvloop), httpx's own (trio, the
sync client), and the httpx clients used behind a proxy."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import httpx
import pytest

from tempest_sdk.client import (
    DEFAULT_MAX_CONNECTIONS,
    APITimeoutError,
    AsyncTempestClient,
    TempestClient,
    TempestConfigError,
)

from .conftest import ENDPOINT
from .servers import FAST_BACKOFF, FLAVOURS, GUARD, TOKEN, HoldingServer, Proxy, run_on

CLASSES = [AsyncTempestClient, TempestClient]


@pytest.mark.parametrize("cls", CLASSES)
def test_max_connections_comes_from_the_argument_the_environment_or_the_default(cls, monkeypatch):
    assert cls(token="t", endpoint=ENDPOINT).max_connections == DEFAULT_MAX_CONNECTIONS == 100
    monkeypatch.setenv("TEMPEST_MAX_CONNECTIONS", " 300 ")
    assert cls(token="t", endpoint=ENDPOINT).max_connections == 300
    assert cls(token="t", endpoint=ENDPOINT, max_connections=7).max_connections == 7
    for bad in ("lots", "0", "-2", "1.5"):
        monkeypatch.setenv("TEMPEST_MAX_CONNECTIONS", bad)
        with pytest.raises(TempestConfigError, match="TEMPEST_MAX_CONNECTIONS must be a whole"):
            cls(token="t", endpoint=ENDPOINT)
    monkeypatch.delenv("TEMPEST_MAX_CONNECTIONS")
    for bad_value in (0, -1, 2.0, True, "8"):
        with pytest.raises(TempestConfigError, match="max_connections= must be a whole"):
            cls(token="t", endpoint=ENDPOINT, max_connections=bad_value)


@pytest.mark.parametrize("cls", CLASSES)
def test_a_given_transport_or_client_keeps_its_own_pool(cls, monkeypatch):
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with pytest.raises(TempestConfigError, match="max_connections= sizes the client's own"):
        cls(token="t", endpoint=ENDPOINT, transport=transport, max_connections=5)
    http: Any = httpx.AsyncClient() if cls is AsyncTempestClient else httpx.Client()
    with pytest.raises(TempestConfigError, match="http_client= you passed brings its own"):
        cls(token="t", endpoint=ENDPOINT, http_client=http, max_connections=5)
    # The environment's size is for the pools the client builds; a given one is left be.
    monkeypatch.setenv("TEMPEST_MAX_CONNECTIONS", "5")
    assert cls(token="t", endpoint=ENDPOINT, transport=transport).max_connections is None


def _built(library: str, **options: Any) -> Any:
    """The transport (or httpx client) an async client builds on `library`'s loop."""

    async def build() -> Any:
        client = AsyncTempestClient(token="t", endpoint=ENDPOINT, **options)
        http = client._http()
        limits = http.limits if hasattr(http, "limits") else None
        await client.aclose()
        return http, limits

    return anyio.run(build, backend=library)


def test_the_aiohttp_transport_and_its_connector_take_the_size(monkeypatch):
    from httpx_aiohttp import AiohttpTransport

    transport, limits = _built("asyncio", max_connections=3)
    assert type(transport) is AiohttpTransport
    assert limits == httpx.Limits(max_connections=3, max_keepalive_connections=3)

    async def connector_limit() -> int:
        session = transport.get_client()  # the session it opens at its first request
        try:
            return int(session.connector.limit)
        finally:
            await session.close()

    assert anyio.run(connector_limit) == 3
    monkeypatch.setenv("TEMPEST_MAX_CONNECTIONS", "250")
    assert _built("asyncio")[1].max_connections == 250
    monkeypatch.delenv("TEMPEST_MAX_CONNECTIONS")
    assert _built("asyncio")[1].max_connections == DEFAULT_MAX_CONNECTIONS


def _hold_two_then_try_a_third(flavour: str, server: HoldingServer) -> tuple[Any, int]:
    """With a pool of 2: two calls held by the server, then a third call that may wait
    0.5 s for a free connection. Returns what the third raised or returned, and how many
    connections the server saw by then."""
    options: dict[str, Any] = {
        "token": TOKEN,
        "endpoint": server.url,
        "max_connections": 2,
        "max_retries": 0,
        "backoff": FAST_BACKOFF,
        "timeout": GUARD,
    }
    # Only the pool wait is short: a third connection, if the pool allowed one, would be
    # opened at once and held by the server, and counted.
    third_timeout = httpx.Timeout(GUARD, pool=0.5)
    if flavour == "sync":
        with TempestClient(**options) as client:
            threads = [
                threading.Thread(target=client.next_task, args=("a", "v1")) for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            try:
                server.wait_held(2)
                try:
                    outcome: Any = client.next_task("a", "v1", timeout=third_timeout)
                except APITimeoutError as exc:
                    outcome = exc
                seen = server.connections
            finally:
                server.release()
                for thread in threads:
                    thread.join(GUARD)
        return outcome, seen

    async def scenario() -> tuple[Any, int]:
        async with AsyncTempestClient(**options) as client, anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(client.next_task, "a", "v1")
            try:
                await anyio.to_thread.run_sync(server.wait_held, 2)
                try:
                    outcome: Any = await client.next_task("a", "v1", timeout=third_timeout)
                except APITimeoutError as exc:
                    outcome = exc
                seen = server.connections
            finally:
                server.release()
        return outcome, seen

    return run_on(flavour, scenario)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_pool_opens_no_more_connections_than_max_connections(flavour):
    with HoldingServer() as server:
        outcome, seen = _hold_two_then_try_a_third(flavour, server)
    # Two calls were held at once, on two connections; the third found no free one.
    assert seen == 2
    assert isinstance(outcome, APITimeoutError), outcome
    assert server.paths == ["/api/v1/apps.operations.next"] * 2


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_behind_a_proxy_the_pool_keeps_its_size(flavour, monkeypatch):
    """Behind a proxy the client sends through an httpx client (httpx-aiohttp's on
    asyncio), whose transports get the same limit."""
    with Proxy() as proxy, HoldingServer() as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        outcome, seen = _hold_two_then_try_a_third(flavour, server)
        assert proxy.forwarded or proxy.connects  # it did go through the proxy
    assert seen == 2
    assert isinstance(outcome, APITimeoutError), outcome
