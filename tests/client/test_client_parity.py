"""Both clients, every public method, the same behaviour: no drift between the twins.

Each test runs on the async client and on the sync one (generated from it); the first
pins the public surface, so that a new method cannot skip these tests.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import anyio
import httpx
import pytest
import respx

from tempest_sdk.client import APIConnectionError, AsyncTempestClient, TempestClient

from .cases import CASE_IDS, CASES, PROJECT_ANSWER, RECIPE_ANSWER, RESOURCE_ANSWER
from .conftest import ENDPOINT, TOKEN, Flavour

CALLS = [case.method for case in CASES]
WALKS = {
    "iter_resources": ("/resources.list", "resources", RESOURCE_ANSWER),
    "iter_projects": ("/projects.list", "projects", PROJECT_ANSWER),
    "iter_recipes": ("/recipes.list", "recipes", RECIPE_ANSWER),
}
PROPERTIES = [
    "attempt_timeout",
    "endpoint",
    "max_connections",
    "max_response_size",
    "max_retries",
    "timeout",
]


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_public_surface_is_pinned_and_the_same_on_both():
    assert _public(AsyncTempestClient) - {"aclose"} == _public(TempestClient) - {"close"}
    assert _public(TempestClient) == {*CALLS, *WALKS, *PROPERTIES, "close"}
    for name in CALLS + list(WALKS):
        sync_signature = inspect.signature(getattr(TempestClient, name))
        async_signature = inspect.signature(getattr(AsyncTempestClient, name))
        assert list(sync_signature.parameters) == list(async_signature.parameters), name
    assert list(inspect.signature(TempestClient).parameters) == list(
        inspect.signature(AsyncTempestClient).parameters
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_each_call_gives_the_same_answer_on_both(router, case):
    route = router.post(case.endpoint).respond(200, json=case.answer)
    results = []
    for name in ("async", "sync"):
        flavour = Flavour(name, router)
        client = flavour.client()
        results.append(await flavour.call(client, case.method, *case.args))
        await flavour.close(client)
    assert route.call_count == 2
    first, second = route.calls
    assert first.request.content == second.request.content
    assert dict(first.request.headers) == dict(second.request.headers)
    assert type(results[0]) is type(results[1])
    assert results[0].to_wire() == results[1].to_wire()


@pytest.mark.parametrize("method", list(WALKS))
async def test_each_walk_gives_the_same_items_on_both(router, method):
    endpoint, key, item = WALKS[method]
    second = {**item, "id": item["id"] + "-2"}
    route = router.post(endpoint).mock(
        side_effect=[
            httpx.Response(200, json={key: [item], "next": "page-2"}),
            httpx.Response(200, json={key: [second], "next": ""}),
        ]
        * 2
    )
    walked = []
    for name in ("async", "sync"):
        flavour = Flavour(name, router)
        client = flavour.client()
        walked.append([x.id for x in await flavour.collect(getattr(client, method)())])
        await flavour.close(client)
    assert walked == [[item["id"], second["id"]]] * 2
    assert route.call_count == 4


async def test_the_properties_read_the_same_on_both(router):
    options = {"timeout": 7.0, "max_retries": 2, "max_connections": 9, "attempt_timeout": 12}
    values = []
    for name in ("async", "sync"):
        client = (AsyncTempestClient if name == "async" else TempestClient)(
            token=TOKEN, endpoint=ENDPOINT, max_response_size=1234, **options
        )
        values.append({prop: getattr(client, prop) for prop in PROPERTIES})
    assert (
        values[0]
        == values[1]
        == {
            "attempt_timeout": 12.0,
            "endpoint": ENDPOINT,
            "max_connections": 9,
            "max_response_size": 1234,
            "max_retries": 2,
            "timeout": httpx.Timeout(7.0),
        }
    )


def _arguments(method: str) -> tuple[Any, ...]:
    return next(case.args for case in CASES if case.method == method)


@pytest.mark.parametrize("given", ["own", "transport", "http_client"])
@pytest.mark.parametrize("method", CALLS + list(WALKS))
async def test_a_closed_client_refuses_every_call(flavour, router, method, given):
    """Both flavours guard against use after close, whatever they send through."""
    router.post(url__regex=r".*").respond(204)
    options: dict[str, Any] = {}
    if given == "transport":
        options["transport"] = httpx.MockTransport(router.handler)
    elif given == "http_client":
        transport = httpx.MockTransport(router.handler)
        options["http_client"] = (
            httpx.AsyncClient(transport=transport)
            if flavour.is_async
            else httpx.Client(transport=transport)
        )
    else:
        options["transport"] = None  # the client builds its own, at the first call
    client = flavour.client(**options)
    await flavour.close(client)
    if method in WALKS:
        attempt = flavour.collect(getattr(client, method)())
    else:
        attempt = flavour.call(client, method, *_arguments(method))
    with pytest.raises(RuntimeError, match=f"this {flavour.cls.__name__} is closed"):
        await attempt
    assert not router.calls
    await flavour.close(client)  # closing again is harmless


class _Raising(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A transport of both flavours that raises `error` for every request."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.closed = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise self.error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.error

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.closed += 1


async def test_both_turn_a_transport_library_error_into_a_connection_error(flavour):
    """The same net on both: a library error a transport lets through unmapped (here
    aiohttp's, as httpx-aiohttp does for a malformed answer) is a connection error."""
    import aiohttp

    transport = _Raising(aiohttp.ClientPayloadError("the body was cut short"))
    client = flavour.client(transport=transport, max_retries=0)
    with pytest.raises(APIConnectionError, match="the body was cut short"):
        await flavour.call(client, "next_task", "a", "v1")


async def test_both_let_a_bug_through(flavour):
    """Anything that is not a transport failure is not swallowed as one."""
    client = flavour.client(transport=_Raising(ValueError("a bug in a transport")))
    with pytest.raises(ValueError, match="a bug in a transport"):
        await flavour.call(client, "next_task", "a", "v1")


async def test_transport_means_the_same_on_both(flavour, router, monkeypatch):
    """`transport=` is an httpx transport every request goes to straight, on both: no
    httpx client in between (its send would add auth, cookies and hooks), and the
    client closes it when closed."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an httpx client's send was used")

    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    monkeypatch.setattr(httpx.Client, "send", refuse)
    route = router.post("/apps.operations.next").respond(204, headers={"Set-Cookie": "session=abc"})
    closed: list[bool] = []

    class Closing(httpx.MockTransport):
        def close(self) -> None:
            closed.append(True)

        async def aclose(self) -> None:
            closed.append(True)

    client = flavour.client(transport=Closing(router.handler))
    assert await flavour.call(client, "next_task", "a", "v1") is None
    assert await flavour.call(client, "next_task", "a", "v1") is None
    # A cookie jar would have sent it back.
    assert "cookie" not in route.calls.last.request.headers
    await flavour.close(client)
    assert closed == [True]


async def test_the_emulator_transport_works_on_both(flavour):
    """The documented use of `transport=`: the emulator's in-process transport."""
    from tempest_sdk.emulator import Emulator

    emulator = Emulator()
    client = (emulator.client if flavour.is_async else emulator.sync_client)()
    assert await flavour.call(client, "next_task", "helloworld", "v1") is None
    await flavour.close(client)


def test_threads_sharing_a_sync_client_build_one_pool():
    """The sync client builds its transport at the first call, once, even when threads
    make that call together."""
    built: list[object] = []
    router = respx.MockRouter(base_url=ENDPOINT, assert_all_called=False)
    router.post("/apps.operations.next").respond(204)

    import tempest_sdk.client._sync as sync_module

    def open_sync_http(**options: Any) -> httpx.BaseTransport:
        time.sleep(0.1)  # long enough for every other thread to arrive meanwhile
        transport = httpx.MockTransport(router.handler)
        built.append(transport)
        return transport

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sync_module, "open_sync_http", open_sync_http)
        client = TempestClient(token=TOKEN, endpoint=ENDPOINT)

        async def many() -> None:
            async with anyio.create_task_group() as group:
                for _ in range(8):
                    group.start_soon(anyio.to_thread.run_sync, client.next_task, "a", "v1")

        anyio.run(many)
        client.close()
    assert len(built) == 1
    assert router.calls.call_count == 8
