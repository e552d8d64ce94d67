"""The HTTP edge of the clients: bounded answers, errors that say the right thing,
TLS and proxy settings checked up front, and the warning for a clear-text endpoint."""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import ssl
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from tempest_sdk.client import (
    DEFAULT_MAX_RESPONSE_SIZE,
    APIConnectionError,
    APIResponseTooLargeError,
    APIStatusError,
    APITimeoutError,
    AsyncTempestClient,
    NotFoundError,
    TempestClient,
    TempestConfigError,
)

from .conftest import ENDPOINT, TOKEN

NEXT = "/apps.operations.next"
TASK = (
    b'{"task_id":"t1","task":{"request_type":"list_resources","resource":{"type":"x",'
    b'"external_id":"","display_name":""},"next":""},"metadata":{"owners":[],'
    b'"author":{"email":"a@b.c","name":"A","type":"user"},"project_id":"p","project_name":"P"}}'
)
MiB = 1024 * 1024


def streamed(flavour: Any, chunks: list[bytes]) -> Any:
    """A body httpx has not read yet, streamed in `chunks` as a network would."""
    if flavour.is_async:

        async def agen() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return agen()

    def gen() -> Iterator[bytes]:
        yield from chunks

    return gen()


def bomb(size: int) -> list[bytes]:
    """Gzip chunks that inflate to `size` zero bytes, made without holding them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    chunks = [compressor.compress(block) for _ in range(size // MiB)]
    chunks.append(compressor.flush())
    return [chunk for chunk in chunks if chunk]


async def test_a_gzip_answer_is_inflated_and_read(flavour, router):
    body = gzip.compress(TASK)
    route = router.post(NEXT).mock(
        side_effect=lambda request: httpx.Response(
            200,
            headers={"content-encoding": "gzip"},
            content=streamed(flavour, [body[:10], body[10:]]),
        )
    )
    client = flavour.client()
    task = await flavour.call(client, "next_task", "a", "v1")
    assert task.task_id == "t1"
    assert route.calls.last.request.headers["accept-encoding"] == "gzip, deflate"
    await flavour.close(client)


async def test_a_deflate_answer_is_inflated_and_read(flavour, router):
    router.post(NEXT).mock(
        side_effect=lambda request: httpx.Response(
            200,
            headers={"content-encoding": "deflate"},
            content=streamed(flavour, [zlib.compress(TASK)]),
        )
    )
    client = flavour.client()
    assert (await flavour.call(client, "next_task", "a", "v1")).task_id == "t1"
    await flavour.close(client)


async def test_a_bare_deflate_answer_is_inflated_too(flavour, router):
    """Some servers send deflate without its zlib wrapper; httpx reads those too."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = compressor.compress(TASK) + compressor.flush()
    router.post(NEXT).mock(
        side_effect=lambda request: httpx.Response(
            200,
            headers={"content-encoding": "deflate"},
            content=streamed(flavour, [body[:1], body[1:2], body[2:]]),
        )
    )
    client = flavour.client()
    assert (await flavour.call(client, "next_task", "a", "v1")).task_id == "t1"
    await flavour.close(client)


async def test_a_gzip_bomb_stops_at_the_cap_and_is_not_retried(flavour, router):
    chunks = bomb(64 * MiB)
    assert sum(map(len, chunks)) < 128 * 1024  # small on the wire, huge inflated
    route = router.post(NEXT).mock(
        side_effect=lambda request: httpx.Response(
            200, headers={"content-encoding": "gzip"}, content=streamed(flavour, chunks)
        )
    )
    client = flavour.client(max_response_size=MiB)
    with pytest.raises(APIResponseTooLargeError) as caught:
        await flavour.call(client, "next_task", "a", "v1")
    assert caught.value.limit == MiB
    assert caught.value.endpoint == NEXT
    assert "decompresses to more than max_response_size (1,048,576 bytes)" in str(caught.value)
    assert route.call_count == 1
    assert flavour.sleeps == []
    await flavour.close(client)


async def test_an_endless_body_stops_at_the_cap(flavour, router):
    def endless() -> Any:
        if flavour.is_async:

            async def agen() -> AsyncIterator[bytes]:
                while True:
                    yield bytes(64 * 1024)

            return agen()

        def gen() -> Iterator[bytes]:
            while True:
                yield bytes(64 * 1024)

        return gen()

    router.post(NEXT).mock(side_effect=lambda request: httpx.Response(200, content=endless()))
    client = flavour.client(max_response_size=MiB)
    with pytest.raises(APIResponseTooLargeError, match="sent more than max_response_size"):
        await flavour.call(client, "next_task", "a", "v1")
    await flavour.close(client)


async def test_an_announced_length_over_the_cap_is_refused_before_reading(flavour, router):
    read: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        chunks = [b"x" * 10]
        if flavour.is_async:

            async def agen() -> AsyncIterator[bytes]:
                read.append(1)
                for chunk in chunks:
                    yield chunk

            stream: Any = agen()
        else:

            def gen() -> Iterator[bytes]:
                read.append(1)
                yield from chunks

            stream = gen()
        return httpx.Response(200, headers={"content-length": str(2 * MiB)}, content=stream)

    router.post(NEXT).mock(side_effect=answer)
    client = flavour.client(max_response_size=MiB)
    with pytest.raises(APIResponseTooLargeError, match="announced a body of more than"):
        await flavour.call(client, "next_task", "a", "v1")
    assert read == []
    await flavour.close(client)


async def test_an_answer_read_whole_by_its_transport_is_held_to_the_cap_too(flavour, router):
    router.post(NEXT).respond(200, content=b"x" * (MiB + 1))
    client = flavour.client(max_response_size=MiB)
    with pytest.raises(APIResponseTooLargeError):
        await flavour.call(client, "next_task", "a", "v1")
    await flavour.close(client)


async def test_a_corrupt_gzip_body_is_a_connection_error_and_retried(flavour, router):
    route = router.post(NEXT).mock(
        side_effect=lambda request: httpx.Response(
            200,
            headers={"content-encoding": "gzip"},
            content=streamed(flavour, [b"\x1f\x8b\x08\x00garbage-not-deflate"]),
        )
    )
    client = flavour.client(max_retries=1)
    with pytest.raises(APIConnectionError, match="compressed answer is corrupt"):
        await flavour.call(client, "next_task", "a", "v1")
    assert route.call_count == 2
    await flavour.close(client)


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "1"])
def test_max_response_size_must_be_a_positive_integer(value):
    for cls in (AsyncTempestClient, TempestClient):
        with pytest.raises(TempestConfigError, match="max_response_size"):
            cls(token="t", endpoint=ENDPOINT, max_response_size=value)


def test_the_default_cap_is_far_above_any_real_answer():
    client = TempestClient(token="t", endpoint=ENDPOINT)
    assert client.max_response_size == DEFAULT_MAX_RESPONSE_SIZE == 16 * MiB
    client.close()


# --- status answers that do not come from Tempest ------------------------------------


async def test_a_redirect_is_not_followed_and_says_so(flavour, router):
    route = router.post(NEXT).respond(
        301, headers={"location": "https://elsewhere.example/api/v1/apps.operations.next"}
    )
    client = flavour.client()
    with pytest.raises(APIStatusError) as caught:
        await flavour.call(client, "next_task", "a", "v1")
    message = str(caught.value)
    assert "redirects to https://elsewhere.example/api/v1/apps.operations.next" in message
    assert "redirects are not followed" in message
    assert route.call_count == 1
    await flavour.close(client)


async def test_an_injected_client_that_follows_redirects_does_not_here(flavour, router):
    """The token must never be sent where the caller did not point it."""
    router.post(NEXT).respond(307, headers={"location": "http://127.0.0.1:9/elsewhere"})
    elsewhere = router.post("http://127.0.0.1:9/elsewhere").respond(204)
    transport = httpx.MockTransport(router.handler)
    http: Any = (
        httpx.AsyncClient(transport=transport, follow_redirects=True)
        if flavour.is_async
        else httpx.Client(transport=transport, follow_redirects=True)
    )
    client = flavour.client(http_client=http)
    with pytest.raises(APIStatusError, match="redirects are not followed"):
        await flavour.call(client, "next_task", "a", "v1")
    assert elsewhere.call_count == 0
    if flavour.is_async:
        await http.aclose()
    else:
        http.close()


@pytest.mark.parametrize(
    ("status", "body", "blames_endpoint"),
    [
        (404, {"status": "error", "error": "task not found"}, False),
        (404, "<html><body>Not Found</body></html>", True),
        (405, "Method Not Allowed", True),
        (409, {"status": "error", "error": "version already connected"}, False),
        (413, {"status": "error", "error": "body too large"}, False),
        (422, {"status": "error", "error": "bad field"}, False),
        (400, "<html>Bad Request</html>", True),
    ],
)
async def test_only_answers_that_are_not_tempest_blame_the_endpoint(
    flavour, client, router, status, body, blames_endpoint
):
    if isinstance(body, dict):
        router.post(NEXT).respond(status, json=body)
    else:
        router.post(NEXT).respond(status, text=body)
    with pytest.raises(APIStatusError) as caught:
        await flavour.call(client, "next_task", "a", "v1", max_retries=0)
    assert ("TEMPEST_API_ENDPOINT" in str(caught.value)) is blames_endpoint, str(caught.value)


async def test_a_tempest_404_says_what_to_check(flavour, client, router):
    router.post(NEXT).respond(404, json={"status": "error", "error": "task not found"})
    with pytest.raises(NotFoundError, match=r"check the id \(a report's task may be unknown"):
        await flavour.call(client, "next_task", "a", "v1", max_retries=0)


# --- connection failures on every event loop -------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LOOPS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
]


def on_loop(loop: tuple[str, dict[str, Any]], scenario: Any) -> Any:
    backend, options = loop
    if options.get("use_uvloop"):
        pytest.importorskip("uvloop", reason="uvloop is not installed")
    return anyio.run(scenario, backend=backend, backend_options=options)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_refused_connection_is_a_connection_error_never_a_timeout(loop):
    endpoint = f"http://127.0.0.1:{closed_port()}/api/v1"

    async def scenario() -> APIConnectionError:
        async with AsyncTempestClient(token=TOKEN, endpoint=endpoint, max_retries=0) as client:
            with pytest.raises(APIConnectionError) as caught:
                await client.next_task("a", "v1")
        return caught.value

    error = on_loop(loop, scenario)
    assert not isinstance(error, APITimeoutError)
    assert "timed out" not in str(error)
    assert TOKEN not in str(error)


def test_a_refused_connection_is_a_connection_error_in_the_sync_client():
    endpoint = f"http://127.0.0.1:{closed_port()}/api/v1"
    with (
        TempestClient(token=TOKEN, endpoint=endpoint, max_retries=0) as client,
        pytest.raises(APIConnectionError) as caught,
    ):
        client.next_task("a", "v1")
    assert not isinstance(caught.value, APITimeoutError)


class HangUp:
    """A loopback server that reads each request and closes without answering."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    def __enter__(self) -> HangUp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_a_server_that_hangs_up_is_a_retried_connection_error(loop):
    async def scenario(port: int) -> APIConnectionError:
        endpoint = f"http://127.0.0.1:{port}/api/v1"
        async with AsyncTempestClient(token=TOKEN, endpoint=endpoint, max_retries=1) as client:
            client._sleep = lambda seconds: anyio.lowlevel.checkpoint()
            with pytest.raises(APIConnectionError) as caught:
                await client.next_task("a", "v1")
        return caught.value

    with HangUp() as server:
        error = on_loop(loop, lambda: scenario(server.port))
    assert not isinstance(error, APITimeoutError)
    assert error.attempts == 2
    assert server.accepted == 2


# --- configuration checked when the client is built -----------------------------------


def test_a_missing_ca_bundle_names_the_file_and_the_setting(tmp_path, monkeypatch):
    missing = tmp_path / "nope.pem"
    with pytest.raises(TempestConfigError, match=r"CA bundle .*nope\.pem.* given by verify="):
        AsyncTempestClient(token="t", endpoint=ENDPOINT, verify=str(missing))
    monkeypatch.setenv("TEMPEST_CA_BUNDLE", str(missing))
    with pytest.raises(TempestConfigError, match="given by TEMPEST_CA_BUNDLE"):
        TempestClient(token="t", endpoint=ENDPOINT)


def test_a_ca_bundle_that_is_not_pem_is_refused(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(TempestConfigError, match="cannot load the CA bundle"):
        TempestClient(token="t", endpoint=ENDPOINT, verify=bad)


def test_a_missing_client_certificate_names_the_file(tmp_path, monkeypatch):
    with pytest.raises(TempestConfigError, match=r"client certificate .*cert\.pem.* cert="):
        TempestClient(token="t", endpoint=ENDPOINT, cert=str(tmp_path / "cert.pem"))
    monkeypatch.setenv("TEMPEST_CLIENT_CERT", str(tmp_path / "env.pem"))
    with pytest.raises(TempestConfigError, match="given by TEMPEST_CLIENT_CERT"):
        AsyncTempestClient(token="t", endpoint=ENDPOINT)


def test_a_client_key_without_a_certificate_is_refused(monkeypatch):
    monkeypatch.setenv("TEMPEST_CLIENT_KEY", "/some/key.pem")
    with pytest.raises(TempestConfigError, match="TEMPEST_CLIENT_KEY is set but"):
        TempestClient(token="t", endpoint=ENDPOINT)


def test_a_certificate_and_an_ssl_context_do_not_mix():
    context = ssl.create_default_context()
    with pytest.raises(TempestConfigError, match="load_cert_chain"):
        TempestClient(token="t", endpoint=ENDPOINT, verify=context, cert="c.pem")


def test_an_ssl_context_is_used_as_given():
    context = ssl.create_default_context()
    client = AsyncTempestClient(token="t", endpoint=ENDPOINT, verify=context)
    assert client._ssl is context


def test_tls_options_do_not_go_with_an_injected_client():
    with httpx.Client() as http, pytest.raises(TempestConfigError, match="http_client="):
        TempestClient(token="t", endpoint=ENDPOINT, http_client=http, verify=False)


@pytest.mark.parametrize(
    ("endpoint", "warned"),
    [
        ("http://10.1.2.3/api/v1", True),
        ("http://tempest.internal/api/v1", True),
        ("http://127.0.0.1:8080/api/v1", False),
        ("http://localhost:8080/api/v1", False),
        ("http://[::1]:8080/api/v1", False),
        ("https://tempest.internal/api/v1", False),
    ],
)
def test_a_clear_text_endpoint_off_this_machine_is_warned_about(caplog, endpoint, warned):
    caplog.set_level(logging.WARNING, logger="tempest_sdk.client")
    AsyncTempestClient(token=TOKEN, endpoint=endpoint)
    records = [r for r in caplog.records if "travel in clear" in r.getMessage()]
    assert bool(records) is warned
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
