"""Real servers for the client's network tests, each on 127.0.0.1 on an ephemeral port,
run in threads and shut down cleanly as a context manager.

- `ApiServer`: the Tempest API over HTTPS (or plain HTTP), `http.server` underneath,
  optionally asking for a client certificate.
- `Proxy`: a forward proxy (CONNECT tunnels, and absolute-form plain-HTTP requests)
  that records every target it was asked for.
- `HostileServer`: raw-socket servers that answer badly on purpose (a gzip bomb, an
  endless body, junk on an idle connection, an endless header block, an answer dripped
  a few bytes at a time).
- `HoldingServer`: holds every request until the test releases them, counting the
  connections clients open meanwhile.

Certificates are made at test time with trustme (`make_certificates`). `drive` runs a
client of each flavour (sync, asyncio, asyncio on uvloop, trio) through the same steps.

Every loop here is bounded in bytes, time and connections, and stops by itself when the
client goes away. Nothing listens on, or connects to, anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import inspect
import json
import os
import selectors
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import anyio
import trustme

from tempest_sdk._backoff import Backoff
from tempest_sdk.client import AsyncTempestClient, TempestClient

HOST = "127.0.0.1"
TOKEN = "tok-SECRET-7f3a9c"
MiB = 1024 * 1024

GUARD = 10.0
"""Seconds: bounds every wait that only a broken client or server would never end."""

MAX_HEAD = 64 * 1024
"""The most a request head may take on our servers."""

STANDARD_OK = {"status": "ok", "message": "received", "error": None}
"""A `StandardResponse`, as `/apps.versions.health` answers it."""

FLAVOURS = ["sync", "asyncio", "uvloop", "trio"]
"""Each client flavour: the sync client, and the async one on each event loop it supports."""

NETWORK_ENV = [
    "TEMPEST_CA_BUNDLE",
    "TEMPEST_CLIENT_CERT",
    "TEMPEST_CLIENT_KEY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUEST_METHOD",  # urllib (so httpx) ignores HTTP_PROXY when it is set
    *(
        name
        for base in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
        for name in (base, base.lower())
    ),
]
"""Environment variables that change where, and how, a client connects."""

FAST_BACKOFF = Backoff(base=0.001, cap=0.001)
"""So that a test that would be wrong to retry still ends fast when it does."""


# -- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A private CA and what it signed, as objects and as PEM files."""

    ca: trustme.CA
    ca_file: Path
    """The CA's certificate."""
    server: trustme.LeafCert
    """For 127.0.0.1 and localhost."""
    wrong_name: trustme.LeafCert
    """For example.test only: right CA, wrong name for 127.0.0.1."""
    client: trustme.LeafCert
    client_file: Path
    """The client certificate and its key in one file."""
    client_cert_file: Path
    client_key_file: Path
    directory: Path

    def server_context(
        self, leaf: trustme.LeafCert | None = None, *, require_client_cert: bool = False
    ) -> ssl.SSLContext:
        """A server's TLS settings presenting `leaf` (default: `server`)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # TLS 1.3 session tickets, sent after the handshake in writes of their own, meet
        # delayed ACKs and cost 40 ms a connection; no test resumes a session.
        context.num_tickets = 0
        (leaf or self.server).configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client's TLS settings trusting the CA (and nothing else)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # checks the name and the chain
        self.ca.configure_trust(context)
        return context

    @functools.cached_property
    def ca_dir(self) -> Path:
        """A directory holding the CA under its OpenSSL subject-hash name (as c_rehash
        names them), for `capath`-style settings. Skips the test without openssl."""
        import pytest

        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("the openssl command is not installed: cannot name a CA directory")
        subject_hash = subprocess.run(
            [openssl, "x509", "-hash", "-noout", "-in", str(self.ca_file)],
            capture_output=True,
            check=True,
            text=True,
            timeout=GUARD,
        ).stdout.strip()
        directory = self.directory / "ca-dir"
        directory.mkdir(exist_ok=True)
        shutil.copyfile(self.ca_file, directory / f"{subject_hash}.0")
        return directory


def make_certificates(directory: Path) -> Certificates:
    """A fresh CA, server certificates and a client certificate, written under `directory`."""
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    client = ca.issue_cert("client.example.test")
    client_file = directory / "client.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(client_file))
    client_cert_file = directory / "client-cert.pem"
    client.cert_chain_pems[0].write_to_path(str(client_cert_file))
    client_key_file = directory / "client-key.pem"
    client.private_key_pem.write_to_path(str(client_key_file))
    return Certificates(
        ca=ca,
        ca_file=ca_file,
        server=ca.issue_cert(HOST, "localhost"),
        wrong_name=ca.issue_cert("example.test"),
        client=client,
        client_file=client_file,
        client_cert_file=client_cert_file,
        client_key_file=client_key_file,
        directory=directory,
    )


# -- bytes on the wire -------------------------------------------------------------------------


def answer(status: int, body: bytes = b"", *headers: str) -> bytes:
    """A whole HTTP/1.1 answer, head and body, to send in one write."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *headers]
    if status not in (204, 304):
        lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def json_answer(status: int, value: Any) -> bytes:
    return answer(status, json.dumps(value).encode(), "Content-Type: application/json")


def api_answer(path: str) -> bytes:
    """The contract's answer to a POST to `path`: 204 for `next`, a `StandardResponse`
    for the endpoints that answer one, 404 for the rest."""
    if path.endswith("/apps.operations.next"):
        return answer(204)
    if path.endswith(("/apps.versions.health", "/apps.operations.report")):
        return json_answer(200, STANDARD_OK)
    return json_answer(404, {"status": "error", "error": f"no endpoint {path}"})


class Wire:
    """One side of a connection, read into a buffer, for servers that parse HTTP by hand."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(64 * 1024)
        self.buffer += data
        return bool(data)

    def read_head(self) -> bytes | None:
        """The next message head (without its blank line), or None at the end of input.

        Raises:
            ValueError: the head is over `MAX_HEAD`.
        """
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buffer[:end])
                del self.buffer[: end + 4]
                return head
            if len(self.buffer) > MAX_HEAD:
                raise ValueError("head too large")
            if not self._fill():
                return None

    def read_exactly(self, size: int) -> bytes | None:
        """`size` bytes, or None if the connection ends first."""
        while len(self.buffer) < size:
            if not self._fill():
                return None
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_message(self) -> tuple[str, dict[str, str], bytes] | None:
        """The next request or answer: its first line, headers (names in lower case)
        and body (framed by Content-Length only), or None at the end of input."""
        head = self.read_head()
        if head is None:
            return None
        first, *lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        if length > MiB:
            raise ValueError("body too large")
        body = self.read_exactly(length)
        if body is None:
            return None
        return first, headers, body


def _quietly_shut(sock: socket.socket) -> None:
    """Ends both directions of `sock`, waking whoever waits on it (without freeing the
    descriptor under them: its owner closes it)."""
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_RDWR)


class _Threaded:
    """What a threaded server keeps to end cleanly: its open sockets and its threads."""

    def __init__(self) -> None:
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.errors: list[BaseException] = []
        """What went wrong while serving (recorded, not printed)."""

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def start_thread(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def end_all(self) -> None:
        """Wakes every connection's thread by ending its sockets, and waits for them."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            _quietly_shut(sock)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(GUARD)


class _SocketServer(_Threaded):
    """A socketserver server run in a thread between `__enter__` and `__exit__`, each
    connection in a thread of its own."""

    _server: socketserver.TCPServer
    _thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self.end_all()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(GUARD)


class _ServerMixin:
    """For socketserver servers owned by a `_Threaded`: bounded joins, quiet errors."""

    owner: _Threaded
    request_queue_size = 128  # the default 5 resets clients that connect all at once

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner.start_thread(self.process_request_thread, request, client_address)  # type: ignore[attr-defined]

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.owner.errors.append(sys.exc_info()[1] or RuntimeError("unknown"))


# -- the API -----------------------------------------------------------------------------------


class _ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = GUARD  # an idle keep-alive connection ends by itself
    server: _ApiHTTPServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        owner = self.server.owner
        path = urlsplit(self.path).path  # absolute-form when a proxy passed it on as is
        owner.paths.append(path)
        owner.bodies.append(body)
        if isinstance(self.connection, ssl.SSLSocket):
            owner.client_certs.append(self.connection.getpeercert() or {})
        # One write for head and body: split, they meet delayed ACKs (40 ms a request).
        self.wfile.write(api_answer(path))

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ApiHTTPServer(_ServerMixin, http.server.ThreadingHTTPServer):
    owner: ApiServer

    def __init__(self, owner: ApiServer) -> None:
        self.owner = owner
        super().__init__((HOST, 0), _ApiHandler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]  # no DNS lookup

    def finish_request(self, request: Any, client_address: Any) -> None:
        # In the connection's own thread, so a slow or failing handshake holds up no one.
        owner = self.owner
        sock: socket.socket = request
        sock.settimeout(GUARD)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        owner.track(sock)
        try:
            if owner.tls is not None:
                try:
                    sock = owner.tls.wrap_socket(sock, server_side=True)
                except (OSError, ValueError) as exc:
                    owner.handshake_errors.append(exc)
                    return
                owner.track(sock)
            owner.connections += 1
            _ApiHandler(sock, client_address, self)
        finally:
            owner.untrack(request)
            owner.untrack(sock)
            if sock is not request:
                sock.close()


class ApiServer(_SocketServer):
    """The Tempest API on 127.0.0.1: every POST gets a valid contract answer.

    Args:
        tls: the server's TLS settings (see `Certificates.server_context`); None for
            plain HTTP.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.tls = tls
        self.paths: list[str] = []
        """The path of every request served, in order."""
        self.bodies: list[bytes] = []
        self.client_certs: list[dict[str, Any]] = []
        """The client certificate of every request served over TLS ({} when none)."""
        self.handshake_errors: list[BaseException] = []
        self.connections = 0
        """Connections that got past the TLS handshake."""
        self._server = _ApiHTTPServer(self)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The API base URL, to give a client as `endpoint=`."""
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}/api/v1"


# -- a forward proxy ---------------------------------------------------------------------------


def _relay(one: socket.socket, other: socket.socket, stop: threading.Event) -> None:
    """Copies bytes both ways until both sides have finished (or GUARD of silence)."""
    selector = selectors.DefaultSelector()
    peers = {one: other, other: one}
    for sock in peers:
        sock.setblocking(True)
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + 6 * GUARD
    try:
        while selector.get_map() and not stop.is_set() and time.monotonic() < deadline:
            ready = selector.select(GUARD)
            if not ready:
                return  # silence: the client is gone or stuck
            for key, _ in ready:
                source = key.fileobj
                assert isinstance(source, socket.socket)
                try:
                    data = source.recv(64 * 1024)
                except OSError:
                    return
                if not data:
                    selector.unregister(source)
                    with contextlib.suppress(OSError):
                        peers[source].shutdown(socket.SHUT_WR)
                    continue
                try:
                    peers[source].sendall(data)
                except OSError:
                    return
    finally:
        selector.close()


class _ProxyHandler(socketserver.BaseRequestHandler):
    server: _ProxyTCPServer

    def handle(self) -> None:
        proxy = self.server.owner
        client: socket.socket = self.request
        client.settimeout(GUARD)
        proxy.track(client)
        wire = Wire(client)
        upstream: socket.socket | None = None
        upstream_wire: Wire | None = None
        try:
            while not proxy.stop.is_set():
                message = wire.read_message()
                if message is None:
                    return
                first, headers, body = message
                method, target, version = first.split(" ")
                if method == "CONNECT":
                    proxy.connects.append(target)
                    host, _, port = target.rpartition(":")
                    if host not in (HOST, "localhost"):
                        client.sendall(answer(403, b"", "Connection: close"))
                        return
                    upstream = socket.create_connection((HOST, int(port)), timeout=GUARD)
                    proxy.track(upstream)
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    if wire.buffer:
                        upstream.sendall(bytes(wire.buffer))
                    _relay(client, upstream, proxy.stop)
                    return
                # A plain-HTTP request in absolute form: pass it on in origin form.
                proxy.forwarded.append(target)
                url = urlsplit(target)
                if url.hostname != HOST:
                    client.sendall(answer(403, b"", "Connection: close"))
                    return
                if upstream is None or upstream_wire is None:
                    upstream = socket.create_connection((HOST, url.port or 80), timeout=GUARD)
                    proxy.track(upstream)
                    upstream_wire = Wire(upstream)
                origin_form = url.path + (f"?{url.query}" if url.query else "")
                kept = [
                    f"{name}: {value}"
                    for name, value in headers.items()
                    if not name.startswith("proxy-")
                ]
                request = "\r\n".join([f"{method} {origin_form} {version}", *kept]) + "\r\n\r\n"
                upstream.sendall(request.encode("latin-1") + body)
                reply = upstream_wire.read_message()
                if reply is None:
                    return
                status_line, reply_headers, reply_body = reply
                lines = [status_line, *(f"{k}: {v}" for k, v in reply_headers.items())]
                client.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + reply_body)
        except (OSError, ValueError) as exc:
            proxy.errors.append(exc)
        finally:
            proxy.untrack(client)
            if upstream is not None:
                proxy.untrack(upstream)
                upstream.close()


class _ProxyTCPServer(_ServerMixin, socketserver.ThreadingTCPServer):
    owner: Proxy

    def __init__(self, owner: Proxy) -> None:
        self.owner = owner
        super().__init__((HOST, 0), _ProxyHandler)


class Proxy(_SocketServer):
    """A forward proxy on 127.0.0.1 that records what it is asked for.

    CONNECT opens a tunnel (to 127.0.0.1 only: other targets get 403); a plain-HTTP
    request in absolute form is passed on to its origin and the answer back.
    """

    def __init__(self) -> None:
        super().__init__()
        self.connects: list[str] = []
        """The `host:port` of every CONNECT, in order."""
        self.forwarded: list[str] = []
        """The absolute URL of every plain-HTTP request, in order."""
        self.stop = threading.Event()
        self._server = _ProxyTCPServer(self)

    @property
    def url(self) -> str:
        """The proxy's URL, for `HTTPS_PROXY` and friends."""
        return f"http://{HOST}:{self._server.server_address[1]}"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        super().__exit__(exc_type, exc, tb)


# -- hostile servers ---------------------------------------------------------------------------

BOMB_SEGMENT = MiB
"""Zeros per repeated piece of a bomb."""


@functools.cache
def bomb(encoding: str, inflated: int = 512 * MiB) -> bytes:
    """A valid gzip (or zlib "deflate") body of zeros that inflates to `inflated` bytes
    from about a thousandth of that (512 MiB from 0.5 MiB: under a 1 MiB cap as sent,
    so that only inflating it can go over).

    After a full flush deflate starts afresh, so every later megabyte of zeros compresses
    to the very same bytes: one piece is compressed and repeated, then the stream is
    ended by hand (an empty final block and the checksum), never holding the zeros whole.
    """
    zeros = bytes(BOMB_SEGMENT)
    count = inflated // BOMB_SEGMENT
    wbits = 31 if encoding == "gzip" else 15
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    header = first[: len(first) - len(piece)]
    assert first[len(header) :] == piece
    final_block = b"\x03\x00"  # an empty final block with fixed codes
    if encoding == "gzip":
        crc = 0
        for _ in range(count):
            crc = zlib.crc32(zeros, crc)
        trailer = struct.pack("<II", crc, (count * BOMB_SEGMENT) & 0xFFFFFFFF)
    else:
        # Adler-32 of zeros: a stays 1, b adds 1 per byte.
        trailer = struct.pack(">I", ((count * BOMB_SEGMENT) % 65521) << 16 | 1)
    return header + piece * count + final_block + trailer


DRIP_PIECE = 25
DRIP_GAP = 0.3
DRIP_PIECES = 25
"""A dripped answer's body: 25 pieces of 25 bytes, 0.3 s apart (7.5 s in all)."""
DRIP_SECONDS = DRIP_PIECES * DRIP_GAP
DRIP_PADDING = DRIP_PIECES * DRIP_PIECE - len(json.dumps({**STANDARD_OK, "message": ""}))


@dataclass(frozen=True)
class Budget:
    """How much a hostile server may send on one connection, and for how long."""

    bytes: int = 64 * MiB
    seconds: float = 15.0
    stall: float = 3.0
    """Seconds a single write may wait for the client to read before giving up."""


HOSTILE_KINDS = [
    "garbage-status",
    "bad-chunked",
    "gzip-bomb",
    "deflate-bomb",
    "endless-chunked",
    "endless-close",
    "huge-length",
    "oversized",
    "endless-headers",
    "idle-junk",
    "drip",
    "drip-head",
]
"""What a `HostileServer` can do to any request other than `next`."""


class HostileServer(_Threaded):
    """A raw-socket server on 127.0.0.1 that answers `/apps.operations.next` properly (204,
    keep-alive) and any other request with `kind` (see `HOSTILE_KINDS`):

    - garbage-status: an answer that is not HTTP at all;
    - bad-chunked: a chunked body with a chunk size that is not hexadecimal;
    - gzip-bomb, deflate-bomb: a 0.5 MiB compressed body that inflates to 512 MiB;
    - endless-chunked: a chunked body that never ends;
    - endless-close: a body without length, delimited by the end of the connection, that
      goes on and on;
    - huge-length: an answer announcing 1 TiB, then streaming;
    - oversized: an honest answer (Content-Length, a valid `StandardResponse`) of `size`
      bytes, compressed with `encoding` ("gzip" or "deflate") when given;
    - endless-headers: a status line, then header lines forever;
    - idle-junk: a good answer, then (after `junk_delay` seconds: the connection is idle)
      junk pushed into the keep-alive connection until the client closes it;
    - drip: a valid `StandardResponse` of `DRIP_PIECES` times `DRIP_PIECE` bytes whose head
      comes at once and whose body comes `DRIP_PIECE` bytes every `DRIP_GAP` seconds
      (7.5 s in all): no single read ever waits long;
    - drip-head: the same answer, its head dripped too.

    Whatever goes on and on stops after `budget` (bytes or seconds), when the client
    stops reading or leaves, or when the server exits. At most `max_connections` are
    served; later ones are closed at once.
    """

    def __init__(
        self,
        kind: str,
        *,
        budget: Budget | None = None,
        size: int = 2 * MiB,
        encoding: str | None = None,
        junk_delay: float = 0.0,
        max_connections: int = 16,
    ) -> None:
        if kind not in HOSTILE_KINDS:
            raise ValueError(f"unknown hostile kind {kind!r}")
        super().__init__()
        self.kind = kind
        self.budget = budget or Budget()
        self.size = size
        self.encoding = encoding
        self.junk_delay = junk_delay
        self.max_connections = max_connections
        self.paths: list[str] = []
        """The path of every request read, in order."""
        self.sent: list[int] = []
        """Bytes of hostile data sent on each connection that got some."""
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server((HOST, 0), backlog=128)
        self._listener.settimeout(0.02)
        self._acceptor = threading.Thread(target=self._accept, name="hostile", daemon=True)
        if kind.endswith("-bomb"):
            bomb(kind.removesuffix("-bomb"))  # built here, not while a client waits

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._listener.getsockname()[1]}/api/v1"

    def __enter__(self) -> Self:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._acceptor.join(GUARD)
        self.end_all()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.connections >= self.max_connections:
                sock.close()
                continue
            self.connections += 1
            self.track(sock)
            self.start_thread(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        deadline = time.monotonic() + self.budget.seconds
        sock.settimeout(GUARD)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = Wire(sock)
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                message = wire.read_message()
                if message is None:
                    return
                path = urlsplit(message[0].split(" ")[1]).path
                self.paths.append(path)
                if path.endswith("/apps.operations.next"):
                    sock.sendall(answer(204))
                    continue
                if not self._misbehave(sock, deadline):
                    return
        except (OSError, ValueError) as exc:
            self.errors.append(exc)
        finally:
            self.untrack(sock)
            sock.close()

    def _misbehave(self, sock: socket.socket, deadline: float) -> bool:
        """Answers one request badly; says whether the connection may go on."""
        kind = self.kind
        json_type = "Content-Type: application/json"
        if kind.endswith("-bomb"):
            encoding = kind.removesuffix("-bomb")
            body = bomb(encoding)
            sock.sendall(answer(200, body, json_type, f"Content-Encoding: {encoding}"))
            self.sent.append(len(body))
            return True
        if kind == "oversized":
            body = sized_json(self.size)
            headers = [json_type]
            if self.encoding is not None:
                wbits = 31 if self.encoding == "gzip" else 15
                compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
                body = compressor.compress(body) + compressor.flush()
                headers.append(f"Content-Encoding: {self.encoding}")
            sock.sendall(answer(200, body, *headers))
            self.sent.append(len(body))
            return True
        if kind == "garbage-status":
            sock.sendall(b"SURPRISE! this is not HTTP\r\n\r\n")
            return False
        if kind == "bad-chunked":
            head = f"HTTP/1.1 200 OK\r\n{json_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
            sock.sendall(head.encode() + b"zz\r\n{}\r\n0\r\n\r\n")
            return False
        if kind == "idle-junk":
            sock.sendall(json_answer(200, STANDARD_OK))
            if self._stop.wait(self.junk_delay):
                return False
            self._flood(sock, b"JUNK" * 16384, deadline)
            return False
        if kind in ("drip", "drip-head"):
            whole = json_answer(200, {**STANDARD_OK, "message": "x" * DRIP_PADDING})
            head_end = whole.index(b"\r\n\r\n") + 4
            head, body = whole[:head_end], whole[head_end:]
            if kind == "drip":
                sock.sendall(head)
                pieces = [body[i : i + DRIP_PIECE] for i in range(0, len(body), DRIP_PIECE)]
            else:
                pieces = [whole[i : i + DRIP_PIECE] for i in range(0, len(whole), DRIP_PIECE)]
            sent = 0
            try:
                for piece in pieces:
                    if self._stop.wait(DRIP_GAP):
                        return False
                    sock.sendall(piece)
                    sent += len(piece)
            except OSError:
                return False  # the client gave up and left
            finally:
                self.sent.append(sent)
            return True
        if kind == "endless-headers":
            sock.sendall(b"HTTP/1.1 200 OK\r\n")
            lines = b"".join(b"X-Flood-%06d: %s\r\n" % (i, b"a" * 100) for i in range(512))
            self._flood(sock, lines, deadline)
            return False
        head = {
            "endless-chunked": "Transfer-Encoding: chunked",
            "endless-close": "Connection: close",
            "huge-length": f"Content-Length: {1024**4}",
        }[kind]
        sock.sendall(f"HTTP/1.1 200 OK\r\n{json_type}\r\n{head}\r\n\r\n".encode())
        piece = b'{"status": "ok", "message": "' + b"x" * (64 * 1024 - 29)
        if kind == "endless-chunked":
            piece = b"%x\r\n%s\r\n" % (len(piece), piece)
        self._flood(sock, piece, deadline)
        return False

    def _flood(self, sock: socket.socket, piece: bytes, deadline: float) -> None:
        """Sends `piece` again and again until the budget is spent, the client stops
        reading (for `budget.stall` seconds) or leaves, or the server exits."""
        sock.settimeout(self.budget.stall)
        sent = 0
        try:
            while (
                sent < self.budget.bytes and time.monotonic() < deadline and not self._stop.is_set()
            ):
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # the client left, reset, or stopped reading
        finally:
            self.sent.append(sent)


class HoldingServer(_Threaded):
    """A raw-socket API on 127.0.0.1 that holds every request until `release()` (or
    `GUARD` seconds), then answers it properly (`api_answer`), keep-alive.

    It counts the connections clients open (`connections`) and the requests it holds
    right now (`held`), so a test can see how many a client's pool opens at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.connections = 0
        self.held = 0
        self.paths: list[str] = []
        self._released = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._listener = socket.create_server((HOST, 0), backlog=128)
        self._listener.settimeout(0.02)
        self._acceptor = threading.Thread(target=self._accept, name="holding", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._listener.getsockname()[1]}/api/v1"

    def release(self) -> None:
        """Answer every request held, and every later one at once."""
        self._released.set()

    def wait_held(self, count: int) -> None:
        """Block until `count` requests are held at once (at most `GUARD` seconds)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.held >= count, GUARD):
                raise AssertionError(f"{self.held} requests held, never {count}")

    def __enter__(self) -> Self:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._released.set()
        self._acceptor.join(GUARD)
        self.end_all()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._changed:
                self.connections += 1
                self._changed.notify_all()
            self.track(sock)
            self.start_thread(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(GUARD)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = Wire(sock)
        try:
            while not self._stop.is_set():
                message = wire.read_message()
                if message is None:
                    return
                path = urlsplit(message[0].split(" ")[1]).path
                with self._changed:
                    self.paths.append(path)
                    self.held += 1
                    self._changed.notify_all()
                try:
                    self._released.wait(GUARD)
                finally:
                    with self._changed:
                        self.held -= 1
                        self._changed.notify_all()
                sock.sendall(api_answer(path))
        except (OSError, ValueError) as exc:
            self.errors.append(exc)
        finally:
            self.untrack(sock)
            sock.close()


def sized_json(size: int) -> bytes:
    """A `StandardResponse` of exactly `size` bytes of JSON (its message pads it)."""
    bare = len(json.dumps({**STANDARD_OK, "message": ""}))
    body = json.dumps({**STANDARD_OK, "message": "x" * (size - bare)}).encode()
    assert len(body) == size
    return body


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so no one else takes it) but
    not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


# -- driving a client of each flavour ----------------------------------------------------------


class Caller:
    """Calls a client's methods the same way whatever its flavour."""

    def __init__(self, client: TempestClient | AsyncTempestClient) -> None:
        self.client = client

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            return await result
        return result


def run_on(flavour: str, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Runs `scenario` on `flavour`'s event loop (the sync client runs on plain asyncio,
    where its blocking calls simply hold the loop)."""
    if flavour == "trio":
        return anyio.run(scenario, backend="trio")
    options = {"use_uvloop": flavour == "uvloop"}
    return anyio.run(scenario, backend="asyncio", backend_options=options)


def drive(flavour: str, steps: Callable[[Caller], Awaitable[Any]], **options: Any) -> Any:
    """Builds a client of `flavour` with `options`, runs `steps` with it, closes it, and
    returns what `steps` returned (or raises what it raised).

    Defaults: the test token, one retry at most, quick backoff, `GUARD` as the timeout.
    """
    options.setdefault("token", TOKEN)
    options.setdefault("max_retries", 1)
    options.setdefault("backoff", FAST_BACKOFF)
    options.setdefault("timeout", GUARD)

    async def scenario() -> Any:
        if flavour == "sync":
            with TempestClient(**options) as client:
                return await steps(Caller(client))
        async with AsyncTempestClient(**options) as client:
            return await steps(Caller(client))

    return run_on(flavour, scenario)


def call_once(flavour: str, method: str, *args: Any, **options: Any) -> Any:
    """`drive` for a single call of `method`."""

    async def steps(call: Caller) -> Any:
        return await call(method, *args)

    return drive(flavour, steps, **options)


def clean_network_env() -> dict[str, str]:
    """This process's environment without the variables in `NETWORK_ENV`."""
    return {name: value for name, value in os.environ.items() if name not in NETWORK_ENV}
