"""`AsyncioTransport` against real servers on 127.0.0.1 that send scripted raw bytes.

Every server here is an `asyncio.start_server` on a free loopback port, started and closed
by the test, so each edge case of HTTP/1.1 framing is exact. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.server
import json
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import types
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest

from tempest_sdk.client import AsyncTempestClient, _transport
from tempest_sdk.client._transport import AsyncioTransport, default_transport

from .cases import CASES
from .conftest import TOKEN

HOST = "127.0.0.1"
GUARD = 5.0
"""Seconds: bounds waits that only a broken transport would never end (never asserted on)."""

# -- the raw bytes servers send ---------------------------------------------------------------


def reply(
    body: bytes = b"",
    *headers: str,
    status: int = 200,
    version: str = "HTTP/1.1",
    length: bool = True,
) -> bytes:
    """A response head (with Content-Length unless `length` is False) and its body."""
    lines = [f"{version} {status} {HTTPStatus(status).phrase}", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def json_reply(value: Any, *headers: str) -> bytes:
    return reply(json.dumps(value).encode(), "Content-Type: application/json", *headers)


def chunked(*chunks: bytes) -> bytes:
    """`chunks` in chunked transfer coding, ended by a zero chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


# -- a scripted server ------------------------------------------------------------------------


@dataclass
class RawRequest:
    """One request as the server read it off the wire."""

    raw: bytes
    head: bytes
    body: bytes

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    @property
    def path(self) -> str:
        return self.request_line.split(b" ")[1].decode()

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        pairs = (line.split(b":", 1) for line in self.head.split(b"\r\n")[1:])
        return [(name.lower(), value.strip()) for name, value in pairs]

    def header(self, name: str) -> bytes | None:
        values = [value for key, value in self.headers if key == name.lower().encode()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


Then = Callable[["Peer"], Awaitable[None]]


@dataclass
class Reply:
    """What a server sends for one request, and what it does next."""

    data: bytes
    after: bytes = b""
    """Sent in a second write once `data` has gone: bytes nobody asked for."""
    then: Then | None = None
    """None: go on serving this connection; else run this and end the connection."""
    wait: asyncio.Event | None = None
    """Hold the answer until this is set."""


class Peer:
    """The server's end of one accepted connection."""

    def __init__(
        self,
        server: ScriptedServer,
        index: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.index = index
        self.reader = reader
        self.writer = writer
        self.requests: list[RawRequest] = []
        self.client_closed = False
        """The client closed (or reset) its end: we read EOF."""
        self.leftover: bytes | None = None
        """What the client sent after we stopped answering, once it closed."""

    async def read_request(self) -> RawRequest | None:
        """The next request, or None once the client has closed the connection."""
        try:
            request = await self._read_request()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.client_closed = True
            return None
        self.requests.append(request)
        self.server.requests.append(request)
        self.server.in_flight += 1
        self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        return request

    async def _read_request(self) -> RawRequest:
        raw = bytearray(await self.reader.readuntil(b"\r\n\r\n"))
        head = bytes(raw[:-4])
        request = RawRequest(b"", head, b"")
        body = bytearray()
        if (request.header("transfer-encoding") or b"").lower() == b"chunked":
            while True:
                line = await self.reader.readuntil(b"\r\n")
                raw += line
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
                        raw += line
                    raw += line
                    break
                data = await self.reader.readexactly(size + 2)
                raw += data
                body += data[:-2]
        else:
            body += await self.reader.readexactly(int(request.header("content-length") or 0))
            raw += body
        return RawRequest(bytes(raw), head, bytes(body))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_client_close(self) -> None:
        """Reads (and keeps) whatever the client sends until it closes its end."""
        try:
            self.leftover = await self.reader.read()
        except ConnectionError:
            self.leftover = b""
        self.client_closed = True


async def close_now(peer: Peer) -> None:
    """Then: close our end (after what was written has gone)."""


async def hang(peer: Peer) -> None:
    """Then: send nothing more; wait for the client to close."""
    await peer.wait_client_close()


async def half_close(peer: Peer) -> None:
    """Then: send FIN but keep reading, until the client closes too."""
    peer.writer.write_eof()
    await peer.wait_client_close()


def reset(peer: Peer) -> None:
    """Close with an RST (SO_LINGER 0) instead of a FIN."""
    sock = peer.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.writer.transport.abort()


async def reset_now(peer: Peer) -> None:
    reset(peer)


class ScriptedServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers from a script.

    Each request gets the next of `replies`, then `respond(peer, request)` (by default a
    JSON body naming the connection and the request's number on it). With `gate`, every
    answer waits until `gate(server)` is true. Or pass `script` to run per connection.
    """

    def __init__(
        self,
        *replies: Reply | bytes,
        respond: Callable[[Peer, RawRequest], Reply | bytes] | None = None,
        gate: Callable[[ScriptedServer], bool] | None = None,
        script: Callable[[Peer], Awaitable[None]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        rcvbuf: int | None = None,
    ) -> None:
        self.replies: deque[Reply | bytes] = deque(replies)
        self.respond = respond or (lambda peer, request: default_reply(peer))
        self.gate = gate
        self.script = script or self.serve
        self.ssl_context = ssl_context
        self.rcvbuf = rcvbuf
        self.peers: list[Peer] = []
        self.requests: list[RawRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://{HOST}:{self.port}"

    async def start(self) -> ScriptedServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf is not None:  # inherited by accepted sockets
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.bind((HOST, 0))
        self._server = await asyncio.start_server(self._accepted, sock=sock, ssl=self.ssl_context)
        self.port = sock.getsockname()[1]
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for peer in self.peers:
            peer.writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self.errors:
            raise self.errors[0]

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(self, len(self.peers), reader, writer)
        self.peers.append(peer)
        task = asyncio.get_running_loop().create_task(self._run(peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, peer: Peer) -> None:
        try:
            await self.script(peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            peer.client_closed = True
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a broken script (or pytest.fail): fail at teardown
            self.errors.append(exc)
        finally:
            peer.writer.close()

    def _gate_open(self) -> bool:
        return self.gate is None or self.gate(self)

    async def serve(self, peer: Peer) -> None:
        """The default script: answer each request on this connection in turn."""
        while (request := await peer.read_request()) is not None:
            answer = self.replies.popleft() if self.replies else self.respond(peer, request)
            if isinstance(answer, bytes):
                answer = Reply(answer)
            if self.gate is not None:
                await until(self._gate_open, "the server's gate opens")
            if answer.wait is not None:
                await answer.wait.wait()
            self.in_flight -= 1  # before the answer goes: the client cannot be faster
            await peer.send(answer.data)
            if answer.after:
                await peer.send(answer.after)
            if answer.then is not None:
                await answer.then(peer)
                return


SILENCE = Reply(b"", then=hang)
"""No answer at all: the server reads on until the client gives up and closes."""


def default_reply(peer: Peer) -> bytes:
    return json_reply({"conn": peer.index, "n": len(peer.requests)})


async def until(condition: Callable[[], bool], what: str) -> None:
    """Waits until `condition()` holds; fails the test if it never does."""
    try:
        async with asyncio.timeout(GUARD):
            while True:
                if condition():
                    return
                await asyncio.sleep(0.001)
    except TimeoutError:
        pytest.fail(f"gave up waiting until {what}")


def idle_connections(transport: AsyncioTransport) -> list[Any]:
    """The transport's idle connections (its internal pool), longest idle first."""
    return [c for connections in transport._idle.values() for c in connections]


StartServer = Callable[..., Awaitable[ScriptedServer]]
MakeClient = Callable[..., tuple[httpx.AsyncClient, AsyncioTransport]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """`await start_server(*replies, **options)`: a started `ScriptedServer`, closed after."""
    servers: list[ScriptedServer] = []

    async def start(*replies: Reply | bytes, **options: Any) -> ScriptedServer:
        server = ScriptedServer(*replies, **options)
        servers.append(server)
        return await server.start()

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """`make_client(**transport_options)`: an httpx client over a new AsyncioTransport."""
    clients: list[httpx.AsyncClient] = []

    def make(**options: Any) -> tuple[httpx.AsyncClient, AsyncioTransport]:
        transport = AsyncioTransport(**options)
        client = httpx.AsyncClient(transport=transport, timeout=GUARD)
        clients.append(client)
        return client, transport

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def spawn() -> AsyncIterator[Callable[[Awaitable[Any]], asyncio.Future[Any]]]:
    """`spawn(awaitable)`: a task, cancelled at teardown if a failing test left it running."""
    tasks: list[asyncio.Future[Any]] = []

    def start(awaitable: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(awaitable)
        tasks.append(task)
        return task

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's proxy or CA settings."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


# -- keep-alive ---------------------------------------------------------------------------------


async def test_sequential_requests_reuse_one_connection(start_server, make_client):
    server = await start_server()
    client, transport = make_client()

    answers = [(await client.get(f"{server.url}/r{i}")).json() for i in range(5)]

    assert answers == [{"conn": 0, "n": n} for n in range(1, 6)]
    assert len(server.peers) == 1
    assert [request.path for request in server.requests] == [f"/r{i}" for i in range(5)]
    assert repr(transport) == "<AsyncioTransport busy=0 idle=1>"


async def test_concurrent_requests_open_several_connections(start_server, make_client):
    server = await start_server(gate=lambda s: len(s.requests) >= 3)
    client, transport = make_client()

    responses = await asyncio.gather(*(client.get(server.url) for _ in range(3)))

    assert sorted(r.json()["conn"] for r in responses) == [0, 1, 2]
    assert len(server.peers) == 3
    assert repr(transport) == "<AsyncioTransport busy=0 idle=3>"


async def test_max_keepalive_caps_the_idle_connections_kept(start_server, make_client):
    server = await start_server(gate=lambda s: len(s.requests) >= 3)
    client, transport = make_client(max_keepalive=1)

    await asyncio.gather(*(client.get(server.url) for _ in range(3)))

    await until(lambda: sum(p.client_closed for p in server.peers) == 2, "2 connections close")
    assert repr(transport) == "<AsyncioTransport busy=0 idle=1>"
    (kept,) = [peer for peer in server.peers if not peer.client_closed]
    later = [(await client.get(server.url)).json()["conn"] for _ in range(2)]
    assert later == [kept.index, kept.index]
    assert len(server.peers) == 3


async def test_max_keepalive_zero_keeps_no_connection(start_server, make_client):
    server = await start_server()
    client, transport = make_client(max_keepalive=0)

    first = (await client.get(server.url)).json()
    await until(lambda: server.peers[0].client_closed, "the client closes its connection")
    second = (await client.get(server.url)).json()

    assert (first["conn"], second["conn"]) == (0, 1)
    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"


async def test_idle_connection_is_kept_for_keepalive_expiry_then_replaced(
    start_server, make_client, monkeypatch
):
    now = [1000.0]
    monkeypatch.setattr(_transport, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    server = await start_server()
    client, _ = make_client(keepalive_expiry=5.0)

    first = (await client.get(server.url)).json()
    now[0] += 4.999
    second = (await client.get(server.url)).json()  # idle 4.999 s: still kept
    now[0] += 5.001
    third = (await client.get(server.url)).json()  # idle 5.001 s: expired

    assert [first["conn"], second["conn"], third["conn"]] == [0, 0, 1]
    await until(lambda: server.peers[0].client_closed, "the expired connection is closed")
    assert server.peers[0].leftover is None  # closed while the server still served it


async def test_tiny_keepalive_expiry_opens_a_new_connection(start_server, make_client):
    server = await start_server()
    client, _ = make_client(keepalive_expiry=0.01)

    await client.get(server.url)
    await asyncio.sleep(0.05)  # certainly longer than the expiry
    second = (await client.get(server.url)).json()

    assert second == {"conn": 1, "n": 1}
    assert len(server.peers) == 2


# -- response framing ---------------------------------------------------------------------------


@dataclass
class Framing:
    id: str
    answer: Reply
    content: bytes
    reused: bool
    method: str = "GET"
    status: int = 200


FRAMINGS = [
    Framing("content-length", Reply(reply(b"hello")), b"hello", reused=True),
    Framing("content-length-zero", Reply(reply(b"")), b"", reused=True),
    Framing(
        "chunked-with-extensions-and-trailers",
        Reply(
            reply(b"", "Transfer-Encoding: chunked", length=False)
            + b"5;name=value\r\nhello\r\n"
            + b'6 ; quoted="a;b"\r\n world\r\n'
            + b"0;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n"
        ),
        b"hello world",
        reused=True,
    ),
    Framing(
        "chunked-mixed-case-and-upper-hex",
        Reply(
            reply(b"", "Transfer-Encoding: Chunked", length=False) + b"A\r\n0123456789\r\n0\r\n\r\n"
        ),
        b"0123456789",
        reused=True,
    ),
    Framing(
        "chunked-wins-over-content-length",
        Reply(
            reply(b"", "Content-Length: 3", "Transfer-Encoding: chunked", length=False)
            + chunked(b"hello")
        ),
        b"hello",
        reused=True,
    ),
    Framing(
        "close-delimited",
        Reply(reply(b"read until the server closes", length=False), then=close_now),
        b"read until the server closes",
        reused=False,
    ),
    Framing(
        "close-delimited-empty",
        Reply(reply(b"", length=False), then=close_now),
        b"",
        reused=False,
    ),
    Framing(
        "connection-close",
        Reply(reply(b"bye", "Connection: close"), then=hang),
        b"bye",
        reused=False,
    ),
    Framing(
        "connection-close-in-a-list",
        Reply(reply(b"bye", "Connection: Keep-Alive, Close"), then=hang),
        b"bye",
        reused=False,
    ),
    Framing(
        "http-1.0",
        Reply(reply(b"old", version="HTTP/1.0"), then=hang),
        b"old",
        reused=False,
    ),
    Framing(
        "head-with-content-length",
        Reply(reply(b"", "Content-Length: 1000", length=False)),
        b"",
        reused=True,
        method="HEAD",
    ),
    Framing(
        "head-with-chunked",
        Reply(reply(b"", "Transfer-Encoding: chunked", length=False)),
        b"",
        reused=True,
        method="HEAD",
    ),
    Framing(
        "204-no-content",
        Reply(reply(b"", status=204, length=False)),
        b"",
        reused=True,
        status=204,
    ),
    Framing(
        "304-with-content-length",
        Reply(reply(b"", "Content-Length: 1000", status=304, length=False)),
        b"",
        reused=True,
        status=304,
    ),
    Framing(
        "interim-100-and-103-skipped",
        Reply(
            reply(b"", status=100, length=False)
            + reply(b"", "Link: </style.css>; rel=preload", status=103, length=False)
            + reply(b"final")
        ),
        b"final",
        reused=True,
    ),
]


@pytest.mark.parametrize("case", FRAMINGS, ids=[case.id for case in FRAMINGS])
async def test_response_framing(start_server, make_client, case):
    server = await start_server(case.answer)
    client, transport = make_client()

    response = await client.request(case.method, f"{server.url}/first")
    kept = repr(transport)
    following = (await client.get(f"{server.url}/second")).json()

    assert response.status_code == case.status
    assert response.content == case.content
    assert "link" not in response.headers  # only the final answer's headers
    assert "x-trailer" not in response.headers
    assert kept == f"<AsyncioTransport busy=0 idle={int(case.reused)}>"
    if case.reused:
        assert following == {"conn": 0, "n": 2}
        assert len(server.peers) == 1
    else:
        assert following == {"conn": 1, "n": 1}
        if case.answer.then is hang:  # the server kept it open: the client must close it
            await until(lambda: server.peers[0].client_closed, "the client closes the first")
            assert server.peers[0].leftover == b""  # and sent nothing more on it


async def test_status_reason_version_and_headers_pass_through(start_server, make_client):
    server = await start_server(
        b"HTTP/1.1 418 I'm a teapot\r\nX-A: 1\r\nx-a: 2\r\nX-Padded: \t padded \t\r\n"
        b"Content-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
        reply(b"", version="HTTP/1.0"),
    )
    client, _ = make_client()

    teapot = await client.get(server.url)
    bare = await client.get(server.url)
    old = await client.get(server.url)

    assert (teapot.status_code, teapot.reason_phrase, teapot.http_version) == (
        418,
        "I'm a teapot",
        "HTTP/1.1",
    )
    assert teapot.headers.get_list("x-a") == ["1", "2"]
    assert teapot.headers["x-padded"] == "padded"
    assert (bare.status_code, bare.reason_phrase) == (200, "")
    assert old.http_version == "HTTP/1.0"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_gzip_encoded_answer_is_decoded(start_server, make_client, framing):
    document = {"id": "prj_01", "items": list(range(200))}
    packed = gzip.compress(json.dumps(document).encode())
    if framing == "chunked":
        answer = reply(
            b"", "Content-Encoding: gzip", "Transfer-Encoding: chunked", length=False
        ) + chunked(packed[:10], packed[10:])
    else:
        answer = reply(packed, "Content-Encoding: gzip")
    server = await start_server(answer)
    client, _ = make_client()

    response = await client.get(server.url)

    assert response.json() == document
    assert server.requests[0].header("accept-encoding") is not None


@pytest.mark.parametrize(
    "codings",
    [
        ("Transfer-Encoding: gzip, chunked",),
        ("Transfer-Encoding: gzip", "Transfer-Encoding: chunked"),
    ],
    ids=["one-header", "two-headers"],
)
async def test_transfer_coding_before_chunked_is_never_returned_raw(
    start_server, make_client, codings
):
    document = b'{"ok": true}'
    server = await start_server(
        reply(b"", *codings, length=False) + chunked(gzip.compress(document)), SILENCE
    )
    client, _ = make_client()

    try:
        response = await client.get(server.url)
    except httpx.RemoteProtocolError:
        return  # refusing it, as h11 does, is right too
    assert response.content == document


# -- request encoding ---------------------------------------------------------------------------


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every write the transport makes to a connection, in order."""
    writes: list[bytes] = []
    original = _transport._Connection.write

    def write(self: Any, data: bytes) -> None:
        writes.append(data)
        original(self, data)

    monkeypatch.setattr(_transport._Connection, "write", write)
    return writes


async def test_a_request_is_one_write_of_head_and_body(start_server, make_client, writes):
    server = await start_server()
    client, _ = make_client()
    body = {"id": "prj_01", "note": "é"}

    await client.post(f"{server.url}/api/v1/projects.get?a=1&b=%2F", json=body)
    await client.get(f"{server.url}/again")

    first, second = server.requests
    assert writes == [first.raw, second.raw]  # one write each, and exactly what arrived
    assert first.request_line == b"POST /api/v1/projects.get?a=1&b=%2F HTTP/1.1"
    assert first.header("host") == f"{HOST}:{server.port}".encode()
    assert first.header("content-length") == str(len(first.body)).encode()
    assert first.header("transfer-encoding") is None
    assert json.loads(first.body) == body
    assert first.raw == first.head + b"\r\n\r\n" + first.body
    assert second.request_line == b"GET /again HTTP/1.1"
    assert second.body == b""


@pytest.mark.parametrize(
    ("parts", "wire"),
    [
        ([b"hello ", b"", b"world"], b"b\r\nhello world\r\n0\r\n\r\n"),
        ([], b"0\r\n\r\n"),
    ],
    ids=["three-parts", "empty"],
)
async def test_streamed_request_body_is_sent_chunked(
    start_server, make_client, writes, parts, wire
):
    server = await start_server()
    client, _ = make_client()

    async def content() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    response = await client.post(server.url, content=content())
    following = await client.get(server.url)  # the same connection: framing was right

    request = server.requests[0]
    assert request.header("transfer-encoding") == b"chunked"
    assert request.header("content-length") is None
    assert request.raw.endswith(b"\r\n\r\n" + wire)
    assert request.body == b"".join(parts)
    assert writes[0] == request.raw
    assert (response.json(), following.json()) == ({"conn": 0, "n": 1}, {"conn": 0, "n": 2})


async def test_request_saying_connection_close_does_not_reuse_the_connection(
    start_server, make_client
):
    # RFC 9112 9.6: a client that sends "close" MUST NOT send further requests on that
    # connection. This server is lenient and keeps it open anyway.
    server = await start_server()
    client, _ = make_client()

    first = (await client.get(server.url, headers={"Connection": "close"})).json()
    second = (await client.get(server.url)).json()

    assert server.requests[0].header("connection") == b"close"
    assert (first, second) == ({"conn": 0, "n": 1}, {"conn": 1, "n": 1})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nInjected: 1"},
        {"X-Evil": "a\nInjected: 1"},
        {"X-Evil": "a\rb"},
        {"X-Evil": "a\x00b"},
        {"X-Evil\r\nInjected": "1"},
    ],
    ids=["crlf", "lf", "cr", "nul", "crlf-in-name"],
)
async def test_header_with_line_break_is_refused_and_nothing_is_sent(
    start_server, make_client, writes, headers
):
    server = await start_server()
    client, transport = make_client()

    with pytest.raises(httpx.LocalProtocolError, match="line break or NUL"):
        await client.get(f"{server.url}/evil", headers=headers)

    assert writes == []
    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"
    await client.get(f"{server.url}/good")
    assert len(server.peers) == 1
    assert [request.path for request in server.requests] == ["/good"]
    assert b"Injected" not in server.requests[0].raw


async def test_unsupported_scheme_is_refused():
    transport = AsyncioTransport()
    with pytest.raises(httpx.UnsupportedProtocol, match="'ftp'"):
        await transport.handle_async_request(httpx.Request("GET", f"ftp://{HOST}:1/"))
    await transport.aclose()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_connections": 0}, "max_connections must be at least 1"),
        ({"max_keepalive": -1}, "max_keepalive must be 0 or more"),
    ],
)
def test_bad_limits_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        AsyncioTransport(**options)


# -- errors -------------------------------------------------------------------------------------


async def test_connection_refused_is_connect_error(make_client):
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    client, transport = make_client()

    with pytest.raises(httpx.ConnectError, match=f"{HOST}:{port}"):
        await client.get(f"http://{HOST}:{port}/")

    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"


async def test_server_closing_without_answering_is_remote_protocol_error(start_server, make_client):
    server = await start_server(Reply(b"", then=close_now))
    client, _ = make_client()

    with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
        await client.get(server.url)

    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n1234",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 1\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
    ],
    ids=["mid-head", "mid-body", "mid-chunk", "between-chunks", "mid-trailers", "after-100"],
)
async def test_server_closing_mid_answer_is_remote_protocol_error(
    start_server, make_client, partial
):
    server = await start_server(Reply(partial, then=close_now))
    client, _ = make_client()

    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(server.url)

    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}


async def test_close_after_the_head_says_in_the_middle_of_the_answer(start_server, make_client):
    server = await start_server(
        Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", then=close_now)
    )
    client, _ = make_client()

    with pytest.raises(httpx.RemoteProtocolError, match="in the middle of its answer"):
        await client.get(server.url)


MALFORMED = {
    "status-http2": b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
    "status-two-digits": b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
    "status-four-digits": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "status-lowercase": b"http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "status-icy": b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n",
    "status-html": b"<html>\r\n\r\n",
    "header-no-colon": b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n",
    "header-obs-fold": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\nContent-Length: 0\r\n\r\n",
    "header-obs-fold-colon": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n X-B: 2\r\nContent-Length: 0\r\n\r\n",
    "header-leading-tab": b"HTTP/1.1 200 OK\r\n\tX-B: 2\r\nContent-Length: 0\r\n\r\n",
    "header-space-before-colon": b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n",
    "header-empty-name": b"HTTP/1.1 200 OK\r\n: 1\r\nContent-Length: 0\r\n\r\n",
    "length-letters": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
    "length-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "length-plus": b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
    "length-hex": b"HTTP/1.1 200 OK\r\nContent-Length: 0x1\r\n\r\nx",
    "length-two-numbers": b"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
    "length-empty": b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
    "length-conflicting": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
    "te-gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    "te-identity": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
    "te-chunked-then-gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "chunk-size-letters": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "chunk-size-negative": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
    "chunk-size-empty": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
    "chunk-size-0x": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n",
    "chunk-too-long": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
    "switching-protocols": reply(b"", "Upgrade: websocket", status=101, length=False),
}


@pytest.mark.parametrize("answer", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_malformed_answer_is_remote_protocol_error_and_connection_dropped(
    start_server, make_client, answer
):
    server = await start_server(Reply(answer, then=hang))  # the server keeps it open
    client, transport = make_client()

    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(server.url)

    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"
    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}
    await until(lambda: server.peers[0].client_closed, "the client drops the broken connection")
    assert server.peers[0].leftover == b""  # and never sent another request on it


def header_block(size: int) -> bytes:
    """`size` bytes or so of `X-Pad-N: aaa…` header lines, each ending in CRLF."""
    line_count = size // 1000 + 1
    return b"".join(b"X-Pad-%04d: %s\r\n" % (i, b"a" * 985) for i in range(line_count))


async def test_header_block_over_64_kib_is_refused_without_its_end(start_server, make_client):
    server = await start_server(Reply(b"HTTP/1.1 200 OK\r\n" + header_block(70_000), then=hang))
    client, _ = make_client()

    with pytest.raises(httpx.RemoteProtocolError, match="over 65536 bytes"):
        await client.get(server.url)


async def test_header_block_far_over_64_kib_is_refused(start_server, make_client):
    head = b"HTTP/1.1 200 OK\r\n" + header_block(1_000_000) + b"Content-Length: 0\r\n\r\n"
    server = await start_server(Reply(head, then=hang))
    client, _ = make_client()

    with pytest.raises(httpx.RemoteProtocolError, match="over 65536 bytes"):
        await client.get(server.url)


async def test_header_block_under_64_kib_is_accepted(start_server, make_client):
    head = b"HTTP/1.1 200 OK\r\n" + header_block(60_000) + b"Content-Length: 2\r\n\r\nok"
    assert 60_000 < len(head) < 64 * 1024
    server = await start_server(head)
    client, _ = make_client()

    response = await client.get(server.url)

    assert response.content == b"ok"
    assert len(response.headers.get_list("x-pad-0000")) == 1


async def test_read_timeout(start_server, make_client):
    server = await start_server(SILENCE)
    client, transport = make_client()

    with pytest.raises(httpx.ReadTimeout, match=r"timed out after 0\.2 s"):
        await client.get(server.url, timeout=httpx.Timeout(GUARD, read=0.2))

    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"
    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}
    await until(lambda: server.peers[0].client_closed, "the client drops the timed-out one")


async def test_pool_timeout(start_server, make_client, spawn):
    release = asyncio.Event()
    server = await start_server(Reply(json_reply("first"), wait=release))
    client, transport = make_client(max_connections=1)

    first = spawn(client.get(f"{server.url}/a"))
    await until(lambda: len(server.requests) == 1, "the first request arrives")
    with pytest.raises(httpx.PoolTimeout, match=r"no free connection within 0\.1 s"):
        await client.get(f"{server.url}/b", timeout=httpx.Timeout(GUARD, pool=0.1))
    release.set()

    assert (await first).json() == "first"
    assert (await client.get(f"{server.url}/c")).json() == {"conn": 0, "n": 2}
    assert [request.path for request in server.requests] == ["/a", "/c"]
    assert repr(transport) == "<AsyncioTransport busy=0 idle=1>"


async def test_write_timeout(start_server, make_client):
    # The server never reads, and its receive buffer is tiny: the body cannot all go.
    stuck = asyncio.Event()

    async def never_read(peer: Peer) -> None:
        await stuck.wait()

    server = await start_server(script=never_read, rcvbuf=4096)
    client, transport = make_client()

    with pytest.raises(httpx.WriteTimeout, match=r"timed out after 0\.2 s"):
        await client.post(
            server.url, content=b"x" * (16 << 20), timeout=httpx.Timeout(GUARD, write=0.2)
        )

    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"


async def test_connection_reset_mid_answer(start_server, make_client):
    server = await start_server(
        Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12", then=reset_now)
    )
    client, _ = make_client()

    with pytest.raises(httpx.TransportError) as caught:
        await client.get(server.url)

    assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}


async def test_connection_reset_before_answer_is_read_error(start_server, make_client):
    server = await start_server(Reply(b"", then=reset_now))
    client, _ = make_client()

    with pytest.raises(httpx.TransportError) as caught:
        await client.get(server.url)

    assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}


# -- broken and stale connections are never reused ----------------------------------------------


async def test_cancelled_request_leaves_no_connection_behind(start_server, make_client, spawn):
    server = await start_server(
        Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", then=hang)
    )
    client, transport = make_client()

    task = spawn(client.get(server.url))
    await until(lambda: len(server.requests) == 1, "the request arrives")
    await until(lambda: len(transport._busy) == 1, "the transport is reading")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"
    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}
    await until(lambda: server.peers[0].client_closed, "the client drops the cancelled one")
    assert server.peers[0].leftover == b""


async def test_asyncio_timeout_around_a_request_leaves_no_connection_behind(
    start_server, make_client, spawn
):
    server = await start_server(SILENCE)
    client, transport = make_client()
    deadlines: list[asyncio.Timeout] = []

    async def request_with_deadline() -> None:
        async with asyncio.timeout(None) as deadline:
            deadlines.append(deadline)
            await client.get(server.url)

    task = spawn(request_with_deadline())
    await until(lambda: len(server.requests) == 1, "the request arrives")
    deadlines[0].reschedule(asyncio.get_running_loop().time())  # expire it now
    with pytest.raises(TimeoutError):
        await task

    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}
    await until(lambda: server.peers[0].client_closed, "the client drops the abandoned one")
    assert repr(transport) == "<AsyncioTransport busy=0 idle=1>"


async def test_idle_connection_the_server_closed_is_replaced(start_server, make_client):
    server = await start_server(Reply(json_reply("first"), then=half_close))
    client, transport = make_client()

    assert (await client.get(server.url)).json() == "first"
    await until(lambda: server.peers[0].client_closed, "the client answers the FIN")
    (idle,) = idle_connections(transport)
    assert not idle.reusable

    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}
    assert server.peers[0].leftover == b""
    assert len(server.peers) == 2


async def test_idle_connection_the_server_reset_is_replaced(start_server, make_client):
    go = asyncio.Event()

    async def reset_when_told(peer: Peer) -> None:
        await go.wait()
        reset(peer)

    server = await start_server(Reply(json_reply("first"), then=reset_when_told))
    client, transport = make_client()

    assert (await client.get(server.url)).json() == "first"
    go.set()
    (idle,) = idle_connections(transport)
    await until(lambda: not idle.reusable, "the client sees the reset")

    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}
    assert len(server.peers) == 2


async def test_stray_bytes_on_an_idle_connection_discard_it(start_server, make_client):
    stray = reply(b"stale answer nobody asked for")
    server = await start_server(Reply(json_reply("first"), after=stray, then=hang))
    client, transport = make_client()

    assert (await client.get(server.url)).json() == "first"
    (idle,) = idle_connections(transport)
    await until(lambda: not idle.reusable, "the stray bytes arrive")

    assert (await client.get(server.url)).json() == {"conn": 1, "n": 1}
    await until(lambda: server.peers[0].client_closed, "the client drops the dirty one")
    assert server.peers[0].leftover == b""


# -- the pool -----------------------------------------------------------------------------------


def settled(transport: AsyncioTransport, total: int) -> Callable[[ScriptedServer], bool]:
    """A gate: every one of `total` requests has reached the server or queues for a slot.

    So the server answers only once all the requests a correct pool lets through (and any
    more a broken one would) are in: then `max_in_flight` is the true peak.
    """
    return lambda server: len(server.requests) + len(transport._waiting) == total


async def test_pool_hands_slots_over_and_caps_connections(start_server, make_client):
    client, transport = make_client(max_connections=2)
    server = await start_server(gate=settled(transport, 10))

    responses = await asyncio.gather(*(client.get(f"{server.url}/{i}") for i in range(10)))

    assert [r.status_code for r in responses] == [200] * 10
    assert len(server.peers) == 2
    assert server.max_in_flight == 2
    assert sorted(request.path for request in server.requests) == sorted(f"/{i}" for i in range(10))
    assert repr(transport) == "<AsyncioTransport busy=0 idle=2>"


async def test_pool_hands_slots_over_when_connections_close(start_server, make_client):
    # Each answer closes its connection, so every request needs a connection of its own;
    # the server counts the requests it holds (hence the connections open with a request).
    client, transport = make_client(max_connections=2)
    server = await start_server(
        respond=lambda peer, request: Reply(reply(b"one", "Connection: close"), then=close_now),
        gate=settled(transport, 10),
    )

    responses = await asyncio.gather(*(client.get(server.url) for _ in range(10)))

    assert [r.content for r in responses] == [b"one"] * 10
    assert len(server.peers) == 10
    assert server.max_in_flight == 2
    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"


async def test_cancelled_pool_waiter_does_not_lose_the_slot(start_server, make_client, spawn):
    release = asyncio.Event()
    server = await start_server(Reply(json_reply("first"), wait=release))
    client, transport = make_client(max_connections=1)

    first = spawn(client.get(server.url))
    await until(lambda: len(server.requests) == 1, "the first request arrives")
    waiter = spawn(client.get(server.url))
    await until(lambda: len(transport._waiting) == 1, "the second one queues")
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()

    assert (await first).json() == "first"
    assert (await client.get(server.url)).json() == {"conn": 0, "n": 2}
    assert len(server.requests) == 2


async def test_cancelling_a_busy_request_and_a_queued_one_together(
    start_server, make_client, spawn
):
    # asyncio.gather / TaskGroup cancel their tasks in one go: the busy request frees its
    # slot (its `finally`) before the queued one handles its own cancellation.
    server = await start_server(SILENCE)
    client, transport = make_client(max_connections=1)

    busy = spawn(client.get(server.url))
    await until(lambda: len(server.requests) == 1, "the first request arrives")
    queued = spawn(client.get(server.url))
    await until(lambda: len(transport._waiting) == 1, "the second one queues")
    busy.cancel()
    queued.cancel()

    with pytest.raises(asyncio.CancelledError):
        await busy
    with pytest.raises(asyncio.CancelledError):
        await queued  # today: ValueError (deque.remove(x): x not in deque)
    assert transport._active == 0  # the slot count itself is right


# -- aclose -------------------------------------------------------------------------------------


async def test_aclose_closes_idle_connections_and_refuses_new_requests(start_server, make_client):
    server = await start_server(gate=lambda s: len(s.requests) >= 2)
    client, transport = make_client()
    await asyncio.gather(client.get(server.url), client.get(server.url))
    assert repr(transport) == "<AsyncioTransport busy=0 idle=2>"

    await transport.aclose()

    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"
    await until(lambda: all(p.client_closed for p in server.peers), "both connections close")
    assert [peer.leftover for peer in server.peers] == [None, None]  # mid-serve: no leftover
    with pytest.raises(RuntimeError, match="this AsyncioTransport is closed"):
        await client.get(server.url)
    assert len(server.requests) == 2
    await transport.aclose()  # again: harmless


async def test_aclose_breaks_a_request_in_flight(start_server, make_client, spawn):
    server = await start_server(SILENCE)
    client, transport = make_client()

    task = spawn(client.get(server.url))
    await until(lambda: len(transport._busy) == 1, "the request is in flight")
    await until(lambda: len(server.requests) == 1, "the request arrives")
    await transport.aclose()

    with pytest.raises(httpx.TransportError):
        await task
    await until(lambda: server.peers[0].client_closed, "the connection closes")


async def test_aclose_stops_requests_queued_for_a_slot(start_server, make_client, spawn):
    server = await start_server(SILENCE)
    client, transport = make_client(max_connections=1)

    busy = spawn(client.get(server.url))
    await until(lambda: len(server.requests) == 1, "the first request arrives")
    queued = spawn(client.get(f"{server.url}/queued"))
    await until(lambda: len(transport._waiting) == 1, "the second one queues")
    await transport.aclose()

    results = await asyncio.gather(busy, queued, return_exceptions=True)

    assert all(isinstance(result, Exception) for result in results), results
    assert len(server.peers) == 1  # nothing was opened after aclose()


# -- TLS ----------------------------------------------------------------------------------------


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed: cannot make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={HOST}",
            "-addext",
            f"subjectAltName=IP:{HOST}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,  # never shown: it would be key material's neighbour
    )
    return Certificate(cert, key)


async def test_tls_with_a_trusting_context_works_and_reuses(start_server, make_client, certificate):
    server = await start_server(ssl_context=certificate.server_context())
    client, _ = make_client(verify=certificate.client_context())

    answers = [(await client.get(f"{server.url}/{i}")).json() for i in range(3)]

    assert server.url.startswith("https://")
    assert answers == [{"conn": 0, "n": n} for n in (1, 2, 3)]
    assert len(server.peers) == 1


async def test_tls_verify_false_accepts_a_self_signed_certificate(
    start_server, make_client, certificate
):
    server = await start_server(ssl_context=certificate.server_context())
    client, _ = make_client(verify=False)

    assert (await client.get(server.url)).json() == {"conn": 0, "n": 1}


async def test_tls_default_verification_rejects_an_unknown_ca(
    start_server, make_client, certificate
):
    server = await start_server(ssl_context=certificate.server_context())
    client, transport = make_client()

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await client.get(server.url)

    assert server.requests == []
    assert repr(transport) == "<AsyncioTransport busy=0 idle=0>"


# -- default_transport and AsyncTempestClient ---------------------------------------------------


async def test_default_transport_is_ours_without_a_proxy():
    transport = default_transport("https://developer.tempestdx.com/api/v1")
    assert isinstance(transport, AsyncioTransport)
    await transport.aclose()


@pytest.mark.parametrize(
    ("env", "endpoint", "ours"),
    [
        ({"HTTPS_PROXY": "http://127.0.0.1:1"}, "https://api.example.com/v1", False),
        ({"https_proxy": "http://127.0.0.1:1"}, "https://api.example.com/v1", False),
        ({"HTTPS_PROXY": "http://127.0.0.1:1"}, "http://api.example.com/v1", True),
        ({"HTTP_PROXY": "http://127.0.0.1:1"}, "http://api.example.com/v1", False),
        ({"HTTP_PROXY": "http://127.0.0.1:1"}, "https://api.example.com/v1", True),
        ({"ALL_PROXY": "socks5://127.0.0.1:1"}, "https://api.example.com/v1", False),
        ({"ALL_PROXY": "socks5://127.0.0.1:1"}, "http://api.example.com/v1", False),
        (
            {"HTTPS_PROXY": "http://127.0.0.1:1", "NO_PROXY": "api.example.com"},
            "https://api.example.com/v1",
            True,
        ),
        (
            {"HTTPS_PROXY": "http://127.0.0.1:1", "NO_PROXY": ".example.com"},
            "https://api.example.com/v1",
            True,
        ),
        (
            {"HTTPS_PROXY": "http://127.0.0.1:1", "NO_PROXY": "other.example.org,127.0.0.1"},
            "https://api.example.com/v1",
            False,
        ),
        (
            {"ALL_PROXY": "http://127.0.0.1:1", "NO_PROXY": "*"},
            "https://api.example.com/v1",
            True,
        ),
        (
            {"ALL_PROXY": "http://127.0.0.1:1", "NO_PROXY": "127.0.0.1"},
            "http://127.0.0.1:8080/api/v1",
            True,
        ),
    ],
)
async def test_default_transport_steps_aside_for_an_environment_proxy(
    monkeypatch, env, endpoint, ours
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    transport = default_transport(endpoint)

    if ours:
        assert isinstance(transport, AsyncioTransport)
        await transport.aclose()
    else:
        assert transport is None


async def test_tempest_client_uses_an_asyncio_transport_by_default():
    client = AsyncTempestClient(token=TOKEN, endpoint=f"http://{HOST}:9/api/v1")
    try:
        assert isinstance(client._http._transport, AsyncioTransport)
    finally:
        await client.aclose()


async def test_tempest_client_uses_httpx_transport_behind_a_proxy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")
    client = AsyncTempestClient(token=TOKEN, endpoint="https://api.example.com/api/v1")
    try:
        assert not isinstance(client._http._transport, AsyncioTransport)
        assert isinstance(client._http._transport, httpx.AsyncHTTPTransport)
    finally:
        await client.aclose()


async def test_tempest_client_uses_the_transport_it_is_given():
    transport = AsyncioTransport(max_connections=3)
    client = AsyncTempestClient(
        token=TOKEN, endpoint=f"http://{HOST}:9/api/v1", transport=transport
    )
    try:
        assert client._http._transport is transport
    finally:
        await client.aclose()


async def test_tempest_client_talks_to_a_real_server(start_server):
    case = next(case for case in CASES if case.method == "get_project")
    server = await start_server(respond=lambda peer, request: json_reply(case.answer))
    client = AsyncTempestClient(token=TOKEN, endpoint=f"{server.url}/api/v1")
    try:
        first = await client.get_project(*case.args)
        second = await client.get_project(*case.args)
    finally:
        await client.aclose()

    assert first == second
    assert first.id == case.answer["id"]
    request = server.requests[0]
    assert request.request_line == f"POST /api/v1{case.endpoint} HTTP/1.1".encode()
    assert request.header("authorization") == f"Bearer {TOKEN}".encode()
    assert json.loads(request.body) == case.sent
    assert len(server.peers) == 1  # the two calls shared one connection
    await until(lambda: server.peers[0].client_closed, "aclose() closes the connection")


# -- other event loops --------------------------------------------------------------------------


async def test_on_another_event_loop_requests_go_through_httpx_transport(
    start_server, make_client, writes, monkeypatch
):
    # sniffio as seen by the transport only: httpcore itself still runs on asyncio.
    monkeypatch.setattr(
        _transport, "sniffio", types.SimpleNamespace(current_async_library=lambda: "trio")
    )
    server = await start_server()
    client, transport = make_client(max_connections=7, keepalive_expiry=3.0)

    answers = [(await client.get(server.url)).json() for _ in range(2)]

    assert answers == [{"conn": 0, "n": 1}, {"conn": 0, "n": 2}]
    assert writes == []  # none of ours
    assert isinstance(transport._fallback, httpx.AsyncHTTPTransport)
    assert transport._fallback._pool._max_connections == 7
    await client.aclose()
    await until(lambda: server.peers[0].client_closed, "aclose() closes httpx's transport too")


@contextlib.contextmanager
def threaded_server() -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 in a thread (for event loops other than asyncio)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def fetch_twice(url: str) -> tuple[list[bytes], AsyncioTransport]:
    transport = AsyncioTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        contents = [(await client.get(url)).content for _ in range(2)]
    return contents, transport


def test_under_trio_requests_go_through_httpx_transport():
    trio = pytest.importorskip("trio", reason="trio is not installed")
    with threaded_server() as url:
        contents, transport = trio.run(fetch_twice, url)
    assert contents == [b"ok", b"ok"]
    assert isinstance(transport._fallback, httpx.AsyncHTTPTransport)


async def test_threaded_server_helper_works_on_asyncio():
    with threaded_server() as url:  # checks the helper the trio test relies on
        contents, transport = await fetch_twice(url)
    assert contents == [b"ok", b"ok"]
    assert transport._fallback is None


# -- repr ---------------------------------------------------------------------------------------


async def test_repr_shows_only_counts(start_server, make_client, spawn):
    release = asyncio.Event()
    server = await start_server(Reply(json_reply("first"), wait=release))
    client, transport = make_client()
    secret = "tok-SECRET-repr"

    task = spawn(
        client.get(f"{server.url}/private/path?key={secret}", headers={"Authorization": secret})
    )
    await until(lambda: len(server.requests) == 1, "the request arrives")
    busy = repr(transport)
    release.set()
    await task
    idle = repr(transport)

    assert (busy, idle) == (
        "<AsyncioTransport busy=1 idle=0>",
        "<AsyncioTransport busy=0 idle=1>",
    )
    for shown in (busy, idle, str(transport)):
        for private in (secret, HOST, str(server.port), "private", "http"):
            assert private not in shown
