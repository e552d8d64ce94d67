"""`AsyncioTransport`: a lean HTTP/1.1 keep-alive transport for httpx on asyncio.

Why it exists: on the machines we measure on, httpx's default transport (httpcore over
anyio streams) costs about 1.5 ms of CPU per request, which caps one runner process at
about 300 `next`+`report` pairs a second, whatever its concurrency. The same httpx client
over this transport drives about three times as many (`benchmarks/bench_runner.py`).

It speaks just what a JSON API needs, straight on an `asyncio.Protocol`: one write per
request, responses framed by Content-Length, chunked encoding or the end of the
connection, keep-alive reuse with an expiry, TLS, and httpx's timeouts and exceptions.
Responses are read whole before they are returned (no streaming). On any other event
loop (trio), requests go to httpx's own transport instead.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
import urllib.request
from collections import defaultdict, deque

import httpx
import sniffio

__all__ = ["AsyncioTransport", "default_transport"]

log = logging.getLogger("tempest_sdk.client.transport")

DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_KEEPALIVE = 20
DEFAULT_KEEPALIVE_EXPIRY = 5.0
MAX_HEAD_BYTES = 64 * 1024
"""The most a response's status line and headers may take (as h11 allows)."""

_FORBIDDEN = re.compile(rb"[\r\n\x00]")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: (.*))?")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_NO_BODY_STATUS = frozenset({204, 304})

Origin = tuple[bytes, bytes, int]


class _Closed(Exception):
    """The peer closed the connection; `partial` when part of a message had come."""

    def __init__(self, partial: bool) -> None:
        self.partial = partial


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection, read into a buffer that callers consume."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._closed = False
        self._lost: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._drained: asyncio.Future[None] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self._closed = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._lost = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- what the transport uses -------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Open, and nothing arrived while idle (a stray byte would corrupt the next answer)."""
        transport = self._transport
        return (
            not self._closed
            and not self._buffer
            and transport is not None
            and not transport.is_closing()
        )

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._closed = True

    @property
    def paused(self) -> bool:
        """The peer is not reading as fast as we write: wait for `drain()`."""
        return self._paused

    def write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._closed or transport.is_closing():
            raise _Closed(partial=False)
        transport.write(data)

    async def drain(self) -> None:
        if self._paused:
            self._drained = asyncio.get_running_loop().create_future()
            try:
                await self._drained
            finally:
                self._drained = None
        if self._closed:
            raise _Closed(partial=False)

    async def read_until(self, separator: bytes, limit: int) -> bytes:
        """Everything up to `separator`, which is consumed and not returned."""
        buffer = self._buffer
        start = 0
        while True:
            end = buffer.find(separator, start)
            if end >= 0:
                data = bytes(buffer[:end])
                del buffer[: end + len(separator)]
                return data
            if len(buffer) > limit:
                raise httpx.RemoteProtocolError(
                    f"the server's answer has a line or header block over {limit} bytes"
                )
            start = max(0, len(buffer) - len(separator) + 1)
            await self._more()

    async def read_exactly(self, size: int) -> bytes:
        buffer = self._buffer
        while len(buffer) < size:
            await self._more()
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    async def read_to_end(self) -> bytes:
        while True:
            try:
                await self._more()
            except _Closed:
                data = bytes(self._buffer)
                self._buffer.clear()
                return data

    async def _more(self) -> None:
        if self._closed:
            if self._lost is not None:
                raise self._lost
            raise _Closed(partial=bool(self._buffer))
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class AsyncioTransport(httpx.AsyncBaseTransport):
    """A lean HTTP/1.1 keep-alive transport for `httpx.AsyncClient` on asyncio.

    `AsyncTempestClient` uses it by default. It keeps up to `max_keepalive` idle
    connections per pool for `keepalive_expiry` seconds, opens at most
    `max_connections` at once, and raises httpx's own exceptions, so it drops in for
    `httpx.AsyncHTTPTransport`. What it leaves out: HTTP/2, proxies (an `AsyncTempestClient`
    behind a proxy uses httpx's transport), streamed responses (each answer is read
    whole) and connection upgrades. On trio it hands every request to
    `httpx.AsyncHTTPTransport`.

    Args:
        verify: verify the server's TLS certificate (True: the system's settings as
            httpx reads them, including `SSL_CERT_FILE`), not (False), or against
            an `ssl.SSLContext`.
        max_connections: the most connections open at once; further requests wait.
        max_keepalive: the most idle connections kept for reuse.
        keepalive_expiry: seconds an idle connection is kept.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_keepalive: int = DEFAULT_MAX_KEEPALIVE,
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        if max_keepalive < 0:
            raise ValueError(f"max_keepalive must be 0 or more, got {max_keepalive}")
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = (
            verify if isinstance(verify, ssl.SSLContext) else None
        )
        self._max_connections = max_connections
        self._max_keepalive = max_keepalive
        self._keepalive_expiry = keepalive_expiry
        self._idle: defaultdict[Origin, list[_Connection]] = defaultdict(list)
        self._idle_count = 0
        self._busy: set[_Connection] = set()
        self._active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._fallback: httpx.AsyncBaseTransport | None = None
        self._decided = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<AsyncioTransport busy={len(self._busy)} idle={self._idle_count}>"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._decided:
            self._decide()
        if self._fallback is not None:
            return await self._fallback.handle_async_request(request)
        if self._closed:
            raise RuntimeError("this AsyncioTransport is closed; build a new client")

        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx.UnsupportedProtocol(
                f"AsyncioTransport speaks http and https, not {scheme.decode()!r}",
                request=request,
            )
        origin: Origin = (scheme, url.raw_host, url.port or (443 if scheme == b"https" else 80))
        data, close_after = await _encode(request)

        await self._acquire(timeouts.get("pool"), request)
        try:
            if self._closed:
                raise RuntimeError("this AsyncioTransport was closed while the request waited")
            connection = self._take_idle(origin)
            if connection is None:
                connection = await self._connect(origin, request, timeouts.get("connect"))
            self._busy.add(connection)
            try:
                response, reusable = await self._exchange(connection, request, data, timeouts)
            except BaseException:
                connection.close()
                raise
            finally:
                self._busy.discard(connection)
            if reusable and not close_after:
                self._put_idle(connection)
            else:
                connection.close()
            return response
        finally:
            self._release()

    async def aclose(self) -> None:
        self._closed = True
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                # Handed a slot, it wakes, sees the transport closed and gives the slot back.
                self._active += 1
                waiter.set_result(None)
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        self._idle_count = 0
        for connection in self._busy:
            connection.close()
        self._busy.clear()
        if self._fallback is not None:
            await self._fallback.aclose()

    # -- the pool ----------------------------------------------------------------------

    def _decide(self) -> None:
        """On the first request: our own transport on asyncio, httpx's elsewhere."""
        self._decided = True
        if sniffio.current_async_library() == "asyncio":
            return
        limits = httpx.Limits(
            max_connections=self._max_connections,
            max_keepalive_connections=self._max_keepalive,
            keepalive_expiry=self._keepalive_expiry,
        )
        self._fallback = httpx.AsyncHTTPTransport(verify=self._verify, limits=limits)

    async def _acquire(self, timeout: float | None, request: httpx.Request) -> None:
        """Takes one of the `max_connections` slots, waiting at most `timeout` for one."""
        if self._active < self._max_connections:
            self._active += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a slot just as the wait ended: pass it on
            elif waiter in self._waiting:  # `_release` may have dropped it already
                self._waiting.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout(
                    f"no free connection within {timeout:g} s", request=request
                ) from exc
            raise

    def _release(self) -> None:
        """Frees a slot, handing it straight to the longest waiter if there is one."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._active -= 1

    def _take_idle(self, origin: Origin) -> _Connection | None:
        connections = self._idle.get(origin)
        if not connections:
            return None
        oldest_kept = time.monotonic() - self._keepalive_expiry
        # Appended as they fall idle, so the expired ones are at the front: drop them all.
        while connections and connections[0].idle_since < oldest_kept:
            connections.pop(0).close()
            self._idle_count -= 1
        while connections:
            connection = connections.pop()  # the most recently used: the least likely stale
            self._idle_count -= 1
            if connection.reusable:
                return connection
            connection.close()
        return None

    def _put_idle(self, connection: _Connection) -> None:
        if self._closed or self._idle_count >= self._max_keepalive:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle[connection.origin].append(connection)
        self._idle_count += 1

    async def _connect(
        self, origin: Origin, request: httpx.Request, timeout: float | None
    ) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        context = self._tls_context() if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        connection = _Connection(origin)
        try:
            async with asyncio.timeout(timeout):
                try:
                    await loop.create_connection(
                        lambda: connection,
                        host,
                        port,
                        ssl=context,
                        server_hostname=host if context is not None else None,
                    )
                except OSError as exc:  # ssl.SSLError is an OSError too
                    raise httpx.ConnectError(
                        f"could not connect to {host}:{port}: {exc}", request=request
                    ) from exc
        except TimeoutError as exc:
            raise _timed_out(httpx.ConnectTimeout, timeout, request) from exc
        log.debug("connected to %s:%d (%s)", host, port, scheme.decode())
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # Built on first use: loading the CA bundle is slow, and plain http needs none.
            context = httpx.create_ssl_context(verify=self._verify)
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_context = context
        return self._ssl_context

    # -- one request and its answer ----------------------------------------------------

    async def _exchange(
        self,
        connection: _Connection,
        request: httpx.Request,
        data: bytes,
        timeouts: dict[str, float | None],
    ) -> tuple[httpx.Response, bool]:
        try:
            connection.write(data)
            if connection.paused:
                try:
                    async with asyncio.timeout(timeouts.get("write")):
                        await connection.drain()
                except TimeoutError as exc:
                    raise _timed_out(httpx.WriteTimeout, timeouts.get("write"), request) from exc
            read_timeout = timeouts.get("read")
            if read_timeout is None:
                return await _read_response(connection, request)
            try:
                async with asyncio.timeout(read_timeout):
                    return await _read_response(connection, request)
            except TimeoutError as exc:
                raise _timed_out(httpx.ReadTimeout, read_timeout, request) from exc
        except OSError as exc:
            # The connection broke (a reset, not an orderly close).
            raise httpx.ReadError(f"the connection broke: {exc}", request=request) from exc
        except _Closed as closed:
            if closed.partial:
                raise httpx.RemoteProtocolError(
                    "the server closed the connection in the middle of its answer",
                    request=request,
                ) from None
            raise httpx.RemoteProtocolError(
                "the server closed the connection without answering", request=request
            ) from None


async def _encode(request: httpx.Request) -> tuple[bytes, bool]:
    """The request, head and body, as it goes on the wire (in one write), and whether
    it says `Connection: close` (then its connection must not carry another)."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    lines = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    chunked = close = False
    for name, value in request.headers.raw:
        if _FORBIDDEN.search(name) or _FORBIDDEN.search(value):
            raise httpx.LocalProtocolError(
                f"header {name.decode('latin-1')!r} contains a line break or NUL; "
                "remove it from the value",
                request=request,
            )
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            chunked = value.lower() == b"chunked"
        elif lowered == b"connection":
            close = close or _says_close(value)
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    if _FORBIDDEN.search(lines[2]):
        raise httpx.LocalProtocolError("the URL contains a line break or NUL", request=request)
    if chunked:
        # httpx chose chunked for a streamed body, which we have read whole: one chunk.
        lines += (b"%x\r\n" % len(body), body, b"\r\n0\r\n\r\n") if body else (b"0\r\n\r\n",)
    else:
        lines.append(body)
    return b"".join(lines), close


async def _read_response(
    connection: _Connection, request: httpx.Request
) -> tuple[httpx.Response, bool]:
    """Reads one answer; says whether the connection may carry another request."""
    while True:
        head = await connection.read_until(b"\r\n\r\n", MAX_HEAD_BYTES)
        lines = head.split(b"\r\n")
        matched = _STATUS_LINE.fullmatch(lines[0])
        if matched is None:
            raise httpx.RemoteProtocolError(
                f"the server answered with a malformed status line: {lines[0][:80]!r}",
                request=request,
            )
        minor, status_text, reason = matched.groups()
        status = int(status_text)
        headers = [_header(line, request) for line in lines[1:]]
        if 100 <= status < 200:
            if status == 101:
                raise httpx.RemoteProtocolError(
                    "the server switched protocols, which AsyncioTransport does not support",
                    request=request,
                )
            continue  # an interim answer (100 Continue, 103 Early Hints): the real one follows
        break

    keep_alive = minor == b"1"
    length: int | None = None
    codings: list[bytes] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise httpx.RemoteProtocolError(
                    f"the server sent a bad Content-Length: {value[:40]!r}", request=request
                )
            length = int(value)
        elif lowered == b"transfer-encoding":
            codings += (coding.strip() for coding in value.lower().split(b","))
        elif lowered == b"connection" and _says_close(value):
            keep_alive = False

    try:
        if request.method == "HEAD" or status in _NO_BODY_STATUS:
            body = b""
        elif codings:
            if codings != [b"chunked"]:
                # Only chunked is undone here; a gzip under it would reach the caller raw.
                raise httpx.RemoteProtocolError(
                    f"the server sent Transfer-Encoding {b', '.join(codings)[:60]!r}; "
                    "AsyncioTransport supports chunked alone",
                    request=request,
                )
            body = await _read_chunked(connection, request)
        elif length is not None:
            body = await connection.read_exactly(length)
        else:
            body = await connection.read_to_end()
            keep_alive = False
    except _Closed:
        raise _Closed(partial=True) from None

    response = httpx.Response(
        status,
        headers=headers,
        stream=httpx.ByteStream(body),
        extensions={"http_version": b"HTTP/1." + minor, "reason_phrase": reason or b""},
    )
    return response, keep_alive


async def _read_chunked(connection: _Connection, request: httpx.Request) -> bytes:
    parts: list[bytes] = []
    while True:
        line = await connection.read_until(b"\r\n", MAX_HEAD_BYTES)
        size_text = line.split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):
            raise httpx.RemoteProtocolError(
                f"the server sent a malformed chunk size: {line[:40]!r}", request=request
            )
        size = int(size_text, 16)
        if size == 0:
            # Trailer fields, if any, end with an empty line; we have no use for them.
            while await connection.read_until(b"\r\n", MAX_HEAD_BYTES):
                pass
            return b"".join(parts)
        parts.append(await connection.read_exactly(size))
        if await connection.read_exactly(2) != b"\r\n":
            raise httpx.RemoteProtocolError(
                "the server sent a chunk longer than its size", request=request
            )


def _says_close(value: bytes) -> bool:
    return b"close" in [token.strip() for token in value.lower().split(b",")]


def _header(line: bytes, request: httpx.Request) -> tuple[bytes, bytes]:
    name, colon, value = line.partition(b":")
    if not colon or not name or name[-1:] in b" \t" or line[:1] in b" \t":
        raise httpx.RemoteProtocolError(
            f"the server sent a malformed header line: {line[:80]!r}", request=request
        )
    return name, value.strip(b" \t")


def default_transport(endpoint: str) -> AsyncioTransport | None:
    """The transport an `AsyncTempestClient` gets when given none: ours, unless an
    environment proxy applies to `endpoint` (None: httpx's transport, which honours it)."""
    url = httpx.URL(endpoint)
    proxies = urllib.request.getproxies_environment()
    if (proxies.get(url.scheme) or proxies.get("all")) and not (
        urllib.request.proxy_bypass(url.host)
    ):
        log.debug("an environment proxy applies to %s: using httpx's own transport", url.host)
        return None
    return AsyncioTransport()


def _timed_out(
    error: type[httpx.TimeoutException], seconds: float | None, request: httpx.Request
) -> httpx.TimeoutException:
    return error(f"timed out after {seconds:g} s", request=request)
