"""Configuration: token and endpoint precedence, timeouts, injected HTTP clients."""

from __future__ import annotations

import json
import logging
import platform
from typing import Any

import anyio
import httpx
import pytest

import tempest_sdk
from tempest_sdk import client as client_namespace
from tempest_sdk.client import (
    DEFAULT_ENDPOINT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USE_CLIENT_DEFAULT,
    AsyncTempestClient,
    AuthenticationError,
    TempestClient,
    TempestConfigError,
)

from .conftest import ENDPOINT


def test_public_names_are_pinned():
    assert client_namespace.__all__ == [
        "DEFAULT_ATTEMPT_TIMEOUT",
        "DEFAULT_ENDPOINT",
        "DEFAULT_MAX_CONNECTIONS",
        "DEFAULT_MAX_RESPONSE_SIZE",
        "DEFAULT_MAX_RETRIES",
        "DEFAULT_TIMEOUT",
        "MAX_RETRY_AFTER",
        "USE_CLIENT_DEFAULT",
        "APIAttemptTimeoutError",
        "APIConnectionError",
        "APIError",
        "APIResponseTooLargeError",
        "APIResponseValidationError",
        "APIStatusError",
        "APITLSError",
        "APITimeoutError",
        "AsyncTempestClient",
        "AuthenticationError",
        "BadRequestError",
        "CertTypes",
        "InternalServerError",
        "NotFoundError",
        "PermissionDeniedError",
        "RateLimitError",
        "RequestRejectedError",
        "TempestClient",
        "TempestConfigError",
        "TimeoutTypes",
        "UseClientDefault",
        "VerifyTypes",
    ]
    for name in client_namespace.__all__:
        assert getattr(client_namespace, name) is not None


def test_use_client_default_reads_well():
    assert repr(USE_CLIENT_DEFAULT) == "USE_CLIENT_DEFAULT"


def test_defaults():
    assert DEFAULT_ENDPOINT == "https://developer.tempestdx.com/api/v1"
    assert DEFAULT_TIMEOUT.connect == 5.0
    assert DEFAULT_TIMEOUT.read == 30.0
    assert DEFAULT_MAX_RETRIES == 3


async def _sent_token(flavour, router, **kwargs) -> str:
    route = router.post("/resources.get").respond(
        200, json={"type": "t", "external_id": "e", "display_name": "d"}
    )
    client = flavour.client(**kwargs)
    await flavour.call(client, "get_resource", "r")
    await flavour.close(client)
    return route.calls.last.request.headers["authorization"].removeprefix("Bearer ")


async def test_explicit_token_wins_over_the_environment(flavour, router, monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file")
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("TEMPEST_TOKEN", "from-env")
    assert await _sent_token(flavour, router, token="explicit") == "explicit"


async def test_token_file_wins_over_token_env(flavour, router, monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("  from-file\n\n")
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("TEMPEST_TOKEN", "from-env")
    assert await _sent_token(flavour, router, token=None) == "from-file"


async def test_token_env_is_used_last_and_stripped(flavour, router, monkeypatch):
    monkeypatch.setenv("TEMPEST_TOKEN", " from-env\n")
    assert await _sent_token(flavour, router, token=None) == "from-env"


async def test_empty_token_file_variable_is_ignored(flavour, router, monkeypatch):
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", "")
    monkeypatch.setenv("TEMPEST_TOKEN", "from-env")
    assert await _sent_token(flavour, router, token=None) == "from-env"


async def test_missing_token_names_every_way_to_give_one(flavour):
    with pytest.raises(TempestConfigError) as caught:
        flavour.cls(endpoint=ENDPOINT)
    message = str(caught.value)
    for way in ("token=", "TEMPEST_TOKEN ", "TEMPEST_TOKEN_FILE"):
        assert way in message


async def test_missing_token_file_names_the_path(flavour, monkeypatch, tmp_path):
    missing = tmp_path / "nope" / "token"
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(missing))
    monkeypatch.setenv("TEMPEST_TOKEN", "from-env")  # never silently used instead
    with pytest.raises(TempestConfigError) as caught:
        flavour.cls(endpoint=ENDPOINT)
    assert str(missing) in str(caught.value)
    assert "TEMPEST_TOKEN_FILE" in str(caught.value)
    assert "No such file" in str(caught.value)


async def test_token_file_that_is_a_directory_names_the_path(flavour, monkeypatch, tmp_path):
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(tmp_path))
    with pytest.raises(TempestConfigError) as caught:
        flavour.cls(endpoint=ENDPOINT)
    assert str(tmp_path) in str(caught.value)


async def test_token_file_that_is_not_text(flavour, monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_bytes(b"\xff\xfe\x00")
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
    with pytest.raises(TempestConfigError, match="not UTF-8 text") as caught:
        flavour.cls(endpoint=ENDPOINT)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("env", "source"),
    [
        ({"TEMPEST_TOKEN": "   "}, "TEMPEST_TOKEN"),
        ({"TEMPEST_TOKEN_FILE": "FILE"}, "TEMPEST_TOKEN_FILE"),
    ],
    ids=["env", "file"],
)
async def test_empty_token_is_refused(flavour, monkeypatch, tmp_path, env, source):
    (tmp_path / "token").write_text("\n \n")
    for name, value in env.items():
        monkeypatch.setenv(name, value.replace("FILE", str(tmp_path / "token")))
    with pytest.raises(TempestConfigError, match="is empty") as caught:
        flavour.cls(endpoint=ENDPOINT)
    assert source in str(caught.value)


@pytest.mark.parametrize("token", ["two words", "line\nbreak", "caf\u00e9", ""])
async def test_tokens_that_cannot_be_headers_are_refused_without_quoting(flavour, token):
    with pytest.raises(TempestConfigError) as caught:
        flavour.cls(token=token, endpoint=ENDPOINT)
    assert "token=" in str(caught.value)
    if token:
        assert token not in str(caught.value)


async def test_endpoint_precedence(flavour, monkeypatch):
    assert flavour.client(endpoint=None).endpoint == DEFAULT_ENDPOINT
    monkeypatch.setenv("TEMPEST_API_ENDPOINT", "http://127.0.0.1:8080/api/v1/")
    assert flavour.client(endpoint=None).endpoint == "http://127.0.0.1:8080/api/v1"
    assert flavour.client(endpoint="http://127.0.0.1:1/x").endpoint == "http://127.0.0.1:1/x"


async def test_endpoint_is_where_requests_go(flavour, router):
    client = flavour.client(endpoint=ENDPOINT + "/")
    route = router.post("/apps.operations.next").respond(204)
    await flavour.call(client, "next_task", "a", "v1")
    assert str(route.calls.last.request.url) == ENDPOINT + "/apps.operations.next"


@pytest.mark.parametrize(
    ("value", "source"),
    [
        ("developer.tempestdx.com/api/v1", "endpoint="),
        ("ftp://example.com", "endpoint="),
        ("https://", "endpoint="),
        ("https://example.com/api?x=1", "endpoint="),
        ("http://[::1", "endpoint="),
    ],
)
async def test_bad_endpoint_is_refused(flavour, value, source):
    with pytest.raises(TempestConfigError) as caught:
        flavour.cls(token="t", endpoint=value)
    assert source in str(caught.value)
    assert DEFAULT_ENDPOINT in str(caught.value)


async def test_bad_endpoint_from_environment_names_the_variable(flavour, monkeypatch):
    monkeypatch.setenv("TEMPEST_API_ENDPOINT", "localhost:8080")
    with pytest.raises(TempestConfigError, match="TEMPEST_API_ENDPOINT 'localhost:8080'"):
        flavour.cls(token="t")


@pytest.mark.parametrize("bad", [-1, 2.5, None])
async def test_bad_max_retries_is_refused(flavour, bad):
    with pytest.raises(TempestConfigError, match="max_retries"):
        flavour.cls(token="t", endpoint=ENDPOINT, max_retries=bad)


async def test_http_client_and_transport_are_exclusive(flavour):
    http = httpx.AsyncClient() if flavour.is_async else httpx.Client()
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with pytest.raises(TempestConfigError, match="either http_client= or transport="):
        flavour.cls(token="t", endpoint=ENDPOINT, http_client=http, transport=transport)
    if flavour.is_async:
        await http.aclose()
    else:
        http.close()


async def test_default_timeout_goes_on_every_request(flavour, client, router):
    route = router.post("/apps.operations.next").respond(204)
    await flavour.call(client, "next_task", "a", "v1")
    assert route.calls.last.request.extensions["timeout"] == {
        "connect": 5.0,
        "read": 30.0,
        "write": 30.0,
        "pool": 30.0,
    }


async def test_client_timeout_and_per_call_override(flavour, router):
    client = flavour.client(timeout=httpx.Timeout(12.0, connect=1.0))
    route = router.post("/apps.operations.next").respond(204)
    await flavour.call(client, "next_task", "a", "v1")
    await flavour.call(client, "next_task", "a", "v1", timeout=2.5)
    await flavour.call(client, "next_task", "a", "v1", timeout=None)
    await flavour.call(client, "next_task", "a", "v1", timeout=USE_CLIENT_DEFAULT)
    timeouts = [call.request.extensions["timeout"] for call in route.calls]
    assert timeouts[0] == {"connect": 1.0, "read": 12.0, "write": 12.0, "pool": 12.0}
    assert timeouts[1] == dict.fromkeys(("connect", "read", "write", "pool"), 2.5)
    # No phase timeout: each phase is then bounded by the whole attempt's deadline.
    assert timeouts[2] == dict.fromkeys(("connect", "read", "write", "pool"), 60.0)
    assert timeouts[3] == timeouts[0]
    assert client.timeout == httpx.Timeout(12.0, connect=1.0)


async def test_no_phase_outlasts_the_attempt_deadline(flavour, router):
    route = router.post("/apps.operations.next").respond(204)
    client = flavour.client(timeout=httpx.Timeout(30.0, connect=5.0), attempt_timeout=8)
    await flavour.call(client, "next_task", "a", "v1")
    await flavour.call(client, "next_task", "a", "v1", timeout=None)
    unbounded = flavour.client(timeout=None, attempt_timeout=float("inf"))
    await flavour.call(unbounded, "next_task", "a", "v1")
    timeouts = [call.request.extensions["timeout"] for call in route.calls]
    assert timeouts[0] == {"connect": 5.0, "read": 8.0, "write": 8.0, "pool": 8.0}
    assert timeouts[1] == dict.fromkeys(("connect", "read", "write", "pool"), 8.0)
    assert timeouts[2] == dict.fromkeys(("connect", "read", "write", "pool"))
    assert client.attempt_timeout == 8.0
    assert unbounded.attempt_timeout is None


async def test_client_level_float_timeout(flavour, router):
    client = flavour.client(timeout=4.0)
    route = router.post("/apps.operations.next").respond(204)
    await flavour.call(client, "next_task", "a", "v1")
    assert route.calls.last.request.extensions["timeout"]["read"] == 4.0


async def test_user_agent_and_headers(flavour, client, router):
    route = router.post("/apps.operations.next").respond(204)
    await flavour.call(client, "next_task", "a", "v1")
    headers = route.calls.last.request.headers
    assert headers["user-agent"] == (
        f"tempest-sdk/{tempest_sdk.__version__} python/{platform.python_version()} "
        f"httpx/{httpx.__version__}"
    )
    assert headers["accept"] == "application/json"
    assert json.loads(route.calls.last.request.content) == {"app_id": "a", "version": "v1"}


async def test_injected_http_client_is_used_and_never_closed(flavour, router):
    transport = httpx.MockTransport(router.handler)
    http = (
        httpx.AsyncClient(transport=transport, headers={"X-Proxy": "yes"})
        if flavour.is_async
        else httpx.Client(transport=transport, headers={"X-Proxy": "yes"})
    )
    route = router.post("/apps.operations.next").respond(204)
    client = flavour.client(http_client=http)

    await flavour.call(client, "next_task", "a", "v1")
    assert route.calls.last.request.headers["x-proxy"] == "yes"
    assert route.calls.last.request.headers["user-agent"].startswith("tempest-sdk/")

    await flavour.close(client)
    assert not http.is_closed
    if flavour.is_async:
        async with client:
            pass
        assert not http.is_closed
        await http.aclose()
    else:
        with client:
            pass
        assert not http.is_closed
        http.close()


async def test_owned_http_client_is_closed(flavour, router):
    router.post("/apps.operations.next").respond(204)
    closed: list[bool] = []

    class Closing(httpx.MockTransport):
        async def aclose(self) -> None:
            closed.append(True)

        def close(self) -> None:
            closed.append(True)

    client = flavour.client(transport=Closing(router.handler))
    await flavour.call(client, "next_task", "a", "v1")
    assert closed == []
    if flavour.is_async:
        async with client as entered:
            assert entered is client
        await client.aclose()  # a second close is harmless
    else:
        with client as entered:
            assert entered is client
    assert closed == [True]


async def test_a_closed_client_refuses_new_calls(flavour):
    client = flavour.cls(token="t", endpoint=ENDPOINT)
    await flavour.close(client)
    with pytest.raises(RuntimeError, match="closed"):
        await flavour.call(client, "next_task", "a", "v1")


def test_the_async_client_picks_its_transport_by_event_loop(monkeypatch):
    """httpx-aiohttp on asyncio (aiohttp runs there only), httpx's own on trio; both
    built at the first call, so a client made outside any loop works on either.
    Without proxies, requests go to the transport straight; with one, through an
    httpx client that routes them by httpx's own rules."""
    from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)

    async def built(**options: Any) -> Any:
        client = AsyncTempestClient(token="t", endpoint=ENDPOINT, **options)
        try:
            return client._http()
        finally:
            await client.aclose()

    assert type(anyio.run(built)) is AiohttpTransport
    assert type(anyio.run(built, backend="trio")) is httpx.AsyncHTTPTransport
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert type(anyio.run(built)) is HttpxAiohttpClient
    assert type(anyio.run(built, backend="trio")) is httpx.AsyncClient
    assert type(anyio.run(lambda: built(trust_env=False))) is AiohttpTransport


async def test_an_owned_async_client_sends_straight_to_its_transport(router, monkeypatch):
    """No `AsyncClient.send` (auth, redirects, cookies, hooks) for the client's own
    requests: it made the runner about 30 % faster."""

    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("AsyncClient.send was used")

    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    route = router.post("/apps.operations.next").respond(204)
    client = AsyncTempestClient(
        token="t", endpoint=ENDPOINT, transport=httpx.MockTransport(router.handler)
    )
    async with client:
        assert await client.next_task("a", "v1") is None
    assert route.call_count == 1


def test_the_two_flavours_offer_the_same_methods():
    def public(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_")}

    sync_only = {"close"}
    async_only = {"aclose"}
    assert public(TempestClient) - sync_only == public(AsyncTempestClient) - async_only


async def test_each_request_carries_its_own_length_and_the_host(flavour, client, router):
    route = router.post("/apps.operations.next").respond(204)
    await flavour.call(client, "next_task", "a", "v1")
    await flavour.call(client, "next_task", "a-longer-app-id", "v12")
    for call in route.calls:
        request = call.request
        names = [name.lower() for name, _ in request.headers.raw]
        assert names.count(b"content-length") == 1
        assert int(request.headers["content-length"]) == len(request.content)
        assert request.headers["host"] == "127.0.0.1:9"


async def test_an_injected_http_client_is_asked_afresh_for_every_call(flavour, router):
    hooked: list[str] = []
    transport = httpx.MockTransport(router.handler)
    if flavour.is_async:

        async def hook(request: httpx.Request) -> None:
            hooked.append(request.url.path)

        http: Any = httpx.AsyncClient(transport=transport, event_hooks={"request": [hook]})
    else:
        http = httpx.Client(
            transport=transport, event_hooks={"request": [lambda r: hooked.append(r.url.path)]}
        )
    route = router.post("/apps.operations.next").respond(204)
    client = flavour.client(http_client=http)

    await flavour.call(client, "next_task", "a", "v1")
    http.headers["X-Trace"] = "second"
    await flavour.call(client, "next_task", "a", "v1")

    assert "x-trace" not in route.calls[0].request.headers
    assert route.calls[1].request.headers["x-trace"] == "second"
    assert hooked == ["/api/v1/apps.operations.next"] * 2
    if flavour.is_async:
        await http.aclose()
    else:
        http.close()


# A token rotated in its file ---------------------------------------------------------

_RESOURCE = {"type": "t", "external_id": "e", "display_name": "d"}


def _refusing(router, good: str, hits: list[str]) -> None:
    """`resources.get` answers 401 to every token but `good`, recording what it got."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"].removeprefix("Bearer ")
        hits.append(sent)
        if sent != good:
            return httpx.Response(401, json={"status": "error", "error": "invalid token"})
        return httpx.Response(200, json=_RESOURCE)

    router.post("/resources.get").mock(side_effect=answer)


async def test_a_refused_token_is_read_again_from_its_file(
    flavour, router, monkeypatch, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG, logger="tempest_sdk")
    token_file = tmp_path / "token"
    token_file.write_text("old-SECRET-1\n")
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
    hits: list[str] = []
    _refusing(router, "new-SECRET-2", hits)
    client = flavour.client(token=None)
    try:
        # Kubernetes rewrites the mounted Secret while the process runs.
        token_file.write_text("new-SECRET-2\n")
        resource = await flavour.call(client, "get_resource", "r")
        assert resource.external_id == "e"
        # The same call again with the new token, at once, and the new one from then on.
        assert hits == ["old-SECRET-1", "new-SECRET-2"]
        assert flavour.sleeps == []
        await flavour.call(client, "get_resource", "r")
        assert hits[-1] == "new-SECRET-2"
    finally:
        await flavour.close(client)
    assert "SECRET" not in caplog.text
    assert any("holds a new one" in record.getMessage() for record in caplog.records)


async def test_a_refused_token_whose_file_is_unchanged_is_an_authentication_error(
    flavour, router, monkeypatch, tmp_path
):
    token_file = tmp_path / "token"
    token_file.write_text("old-SECRET-1")
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
    hits: list[str] = []
    _refusing(router, "new-SECRET-2", hits)
    client = flavour.client(token=None)
    try:
        with pytest.raises(AuthenticationError) as caught:
            await flavour.call(client, "get_resource", "r")
        assert hits == ["old-SECRET-1"]
        # A file that cannot be read at the moment keeps the token in use.
        token_file.unlink()
        with pytest.raises(AuthenticationError):
            await flavour.call(client, "get_resource", "r")
        assert hits == ["old-SECRET-1", "old-SECRET-1"]
    finally:
        await flavour.close(client)
    assert "SECRET" not in str(caught.value)


async def test_a_token_given_in_code_is_never_read_from_a_file(
    flavour, router, monkeypatch, tmp_path
):
    token_file = tmp_path / "token"
    token_file.write_text("new-SECRET-2")
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
    hits: list[str] = []
    _refusing(router, "new-SECRET-2", hits)
    client = flavour.client(token="given-SECRET-0")
    try:
        with pytest.raises(AuthenticationError):
            await flavour.call(client, "get_resource", "r")
        assert hits == ["given-SECRET-0"]
    finally:
        await flavour.close(client)
