"""Fixtures that run every client test against both flavours, over respx."""

from __future__ import annotations

import inspect
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from tempest_sdk._backoff import Backoff
from tempest_sdk.client import AsyncTempestClient, TempestClient

from .servers import NETWORK_ENV, ApiServer, Certificates, make_certificates

# Loopback, so even a request respx failed to catch could not leave the machine.
ENDPOINT = "http://127.0.0.1:9/api/v1"
TOKEN = "tok-SECRET-7f3a9c"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own Tempest configuration, proxies or CAs."""
    for name in ("TEMPEST_TOKEN", "TEMPEST_TOKEN_FILE", "TEMPEST_API_ENDPOINT", *NETWORK_ENV):
        monkeypatch.delenv(name, raising=False)


class Flavour:
    """One client flavour, with a uniform (awaitable) way to call it from tests."""

    def __init__(self, name: str, router: respx.MockRouter) -> None:
        self.name = name
        self.router = router
        self.is_async = name == "async"
        self.cls: type[AsyncTempestClient] | type[TempestClient] = (
            AsyncTempestClient if self.is_async else TempestClient
        )
        self.sleeps: list[float] = []

    def client(self, **kwargs: Any) -> Any:
        """A client of this flavour whose sleeps are recorded, not waited.

        Unless told otherwise it sends through `router` (an in-memory transport: no
        sockets, and no TLS context to build for every test).
        """
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", httpx.MockTransport(self.router.handler))
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("endpoint", ENDPOINT)
        kwargs.setdefault("backoff", Backoff(base=0.5, cap=8.0, rng=random.Random(1234)))
        client = self.cls(**kwargs)
        if self.is_async:

            async def sleep(seconds: float) -> None:
                self.sleeps.append(seconds)

            client._sleep = sleep
        else:
            client._sleep = self.sleeps.append
        return client

    async def call(self, client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `method` on `client`, awaiting it when the client is async."""
        result = getattr(client, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            return await result
        return result

    async def collect(self, iterator: Any) -> list[Any]:
        """Every item of an `iter_*` iterator, sync or async."""
        if self.is_async:
            return [item async for item in iterator]
        return list(iterator)

    async def close(self, client: Any) -> None:
        """Close the client with the flavour's own method."""
        if self.is_async:
            await client.aclose()
        else:
            client.close()


@pytest.fixture
def router() -> respx.MockRouter:
    """respx routes under `ENDPOINT`; a request no route matches fails the test."""
    return respx.MockRouter(base_url=ENDPOINT, assert_all_called=False)


@pytest.fixture(params=["async", "sync"])
def flavour(request: pytest.FixtureRequest, router: respx.MockRouter) -> Flavour:
    """Each test that takes this fixture runs once per client flavour."""
    return Flavour(request.param, router)


@pytest.fixture
async def client(flavour: Flavour) -> AsyncIterator[Any]:
    """A client of the current flavour against `ENDPOINT`, closed afterwards."""
    client = flavour.client()
    yield client
    await flavour.close(client)


def json_response(status: int = 200, body: Any = None, **kwargs: Any) -> httpx.Response:
    """An answer with a JSON body."""
    return httpx.Response(status, json=body, **kwargs)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate."""
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def server(certs: Certificates) -> Iterator[ApiServer]:
    """The API over HTTPS with a certificate for 127.0.0.1 from the test CA."""
    with ApiServer(certs.server_context()) as server:
        yield server
