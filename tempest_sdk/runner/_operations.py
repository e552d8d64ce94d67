"""The operations endpoint: liveness, readiness and metrics over HTTP for probes and
scrapers.

- `GET /livez`: 200 while the event loop answers; 503 while it has been blocked for
  longer than the watchdog's threshold.
- `GET /readyz`: 200 once the runner is connected and polling with an accepted token;
  503 while starting, after the token was refused, while draining, and stopped.
- `GET /metrics`: the Prometheus text format, written by prometheus-client's own
  exposition functions; 501 when prometheus-client is not installed.

It is aiohttp's low-level server (`aiohttp.web.Server`) on an asyncio event loop of
its own, in one daemon thread: a blocked runner loop cannot keep `/livez` from saying
so, nothing runs on the runner's loop, and idle clients cost no thread. The port is
reachable by the cluster, so every connection is bounded:

- `timeout` seconds to send a whole request after connecting (idle and half-sent
  connections are closed), to take an answer, and to keep a connection alive
  between requests (aiohttp's `keepalive_timeout`);
- at most `max_connections` open at once: past it, the connection idle the longest is
  closed to make room, so a probe always gets in;
- request lines and headers bounded by aiohttp's parser limits;
- `/metrics` is rendered at most every `_METRICS_INTERVAL` seconds and in at most
  `_METRICS_SHARE` of the process's time: a scrape that comes sooner waits for the next
  rendering, which every scrape waiting shares, so scrapers in a loop cannot starve the
  runner of the GIL. Each answer is rendered after its request came: never stale.

The server starts with the runner and shuts down when the runner has stopped. Module
imported only when the endpoint is on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING

import anyio
from aiohttp import web

from ._errors import RunnerStartupError
from ._observe import Probe

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["OperationsServer"]

logger = logging.getLogger("tempest_sdk.runner.operations")

_PATHS = "/livez, /readyz, /metrics"
_NO_PROMETHEUS = (
    "metrics need the prometheus-client package: pip install 'tempest-sdk[prometheus]'\n"
)
_PLAIN = "text/plain; charset=utf-8"
# Connections wait here until the endpoint's loop accepts them (and closes the longest
# idle to make room): a client opening them faster than that must not fill the queue, or
# the kernel drops a probe's SYN and the probe waits a second for its retry.
_BACKLOG = 1024
_ACCEPT_BATCH = 16
# Probes and scrapers send a request line and a few short headers.
_MAX_LINE = 4096
_MAX_HEADERS = 32
_METRICS_SHARE = 0.05
"""The most of the process's time that rendering `/metrics` may take."""
_METRICS_INTERVAL = 0.25
"""The shortest time between two renderings: the scrapes that come meanwhile share the
next one, so scrapers in a loop also cost few requests (Prometheus scrapes every 15 s
or so)."""
_WARN_EVERY = 60.0


class OperationsServer:
    """Serves `/livez`, `/readyz` and `/metrics` from a thread and event loop of its own.

    Args:
        host: the address to listen on.
        port: the port; 0 picks a free one (read `url`).
        liveness: answers `/livez` (called on the server's thread).
        readiness: answers `/readyz` (called on the server's thread).
        registry: the registry `/metrics` serves, or None when prometheus-client is
            not installed.
        timeout: seconds a connection may take to send a request, to take an answer,
            and may stay idle between requests.
        max_connections: connections open at once; past it the longest idle is closed.

    Raises:
        RunnerStartupError: the address cannot be listened on.
    """

    def __init__(
        self,
        host: str,
        port: int,
        liveness: Callable[[], Probe],
        readiness: Callable[[], Probe],
        registry: CollectorRegistry | None,
        *,
        timeout: float = 5.0,
        max_connections: int = 256,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sock = socket.create_server((host, port), family=family, backlog=_BACKLOG)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise RunnerStartupError(
                f"cannot serve the operations endpoint on {_join(host, port)}: {reason}. "
                "Fix: choose another address with operations_address= or "
                "TEMPEST_RUNNER_OPERATIONS_ADDRESS (HOST:PORT), or stop what listens there"
            ) from None
        bound_host, bound_port = sock.getsockname()[:2]
        self.url = f"http://{_join(str(bound_host), int(bound_port))}"
        self._routes = _Routes(liveness, readiness, registry, timeout)
        self._gate = _Gate(timeout, max_connections)
        self._loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve,
            args=(sock, started),
            name=f"tempest_sdk operations endpoint {self.url}",
            daemon=True,
        )
        self._thread.start()
        started.result()
        logger.info(
            "operations endpoint listening on %s (%s)", self.url, _PATHS, extra={"url": self.url}
        )

    @property
    def connections(self) -> int:
        """Connections open now (read from any thread; for tests and benchmarks)."""
        return len(self._gate.open)

    async def aclose(self) -> None:
        """Stop serving and release the port (without blocking the event loop)."""
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._close)

    def _close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def _serve(self, sock: socket.socket, started: concurrent.futures.Future[None]) -> None:
        loop = self._loop
        try:
            listener, server = loop.run_until_complete(self._start(sock))
        except BaseException as exc:  # handed to the constructor, which raises it
            sock.close()
            loop.close()
            started.set_exception(exc)
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._stop(listener, server))
            loop.close()

    async def _start(self, sock: socket.socket) -> tuple[asyncio.Server, web.Server]:
        server = web.Server(
            self._routes.handle,
            handler_cancellation=True,  # a client that leaves cancels its paced scrape
            keepalive_timeout=self._gate.timeout,
            lingering_time=min(self._gate.timeout, 1.0),
            max_line_size=_MAX_LINE,
            max_field_size=_MAX_LINE,
            max_headers=_MAX_HEADERS,
            access_log=None,
        )
        self._routes.gate = self._gate
        self._gate.server = server
        # asyncio accepts up to `backlog` connections at each wake-up before it reads any:
        # small batches let a probe's request be read (and so protected from eviction)
        # before a flood of new connections makes it the oldest idle one.
        listener = await asyncio.get_running_loop().create_server(
            self._gate.protocol, sock=sock, backlog=_ACCEPT_BATCH
        )
        sock.listen(_BACKLOG)  # the kernel's queue stays long
        return listener, server

    async def _stop(self, listener: asyncio.Server, server: web.Server) -> None:
        listener.close()
        # Probes and scrapes take milliseconds: a short grace, then whatever is left
        # (an idle keep-alive, a client that does not read) is cut.
        await server.shutdown(0.5)
        for connection in list(self._gate.open):
            connection.abort()
        await asyncio.sleep(0)  # let the aborted transports report connection_lost


class _Connection(asyncio.Protocol):
    """One client connection: aiohttp's protocol, counted and timed by the gate."""

    def __init__(self, gate: _Gate, handler: web.RequestHandler) -> None:
        self.gate = gate
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self.requests = 0
        self.busy = False
        self.refused = False
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.gate.admit(self):
            self.refused = True
            transport.abort()
            return
        self.handler.connection_made(transport)
        # aiohttp's keep-alive timer covers idle time between requests; this one covers
        # the first request, however much of it was sent.
        self.deadline = asyncio.get_running_loop().call_later(self.gate.timeout, self._no_request)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            self.handler.data_received(data)

    def eof_received(self) -> bool | None:
        if not self.refused:
            self.handler.eof_received()
        return None  # aiohttp's answer: close the transport once the peer stops sending

    def pause_writing(self) -> None:
        if not self.refused:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if not self.refused:
            self.handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        self.gate.open.pop(self, None)
        self.gate.by_handler.pop(self.handler, None)
        if not self.refused:
            self.handler.connection_lost(exc)

    def abort(self) -> None:
        self.gate.open.pop(self, None)
        if self.transport is not None:
            self.transport.abort()

    def _no_request(self) -> None:
        if self.requests == 0:
            logger.debug(
                "closing a connection that sent no whole request in %gs", self.gate.timeout
            )
            self.abort()


class _Gate:
    """Every open connection, in the order they came; admits, evicts and times them."""

    def __init__(self, timeout: float, max_connections: int) -> None:
        if not timeout > 0 or max_connections < 1:
            raise ValueError("timeout must be above 0 and max_connections at least 1")
        self.timeout = timeout
        self.max_connections = max_connections
        self.open: dict[_Connection, None] = {}
        self.by_handler: dict[web.RequestHandler, _Connection] = {}
        self.server: web.Server | None = None
        self._warned = -_WARN_EVERY

    def protocol(self) -> asyncio.Protocol:
        """The protocol factory of the listening socket."""
        assert self.server is not None
        return _Connection(self, self.server())

    def admit(self, connection: _Connection) -> bool:
        """Make room for `connection`: False when every open one is busy answering."""
        if len(self.open) >= self.max_connections:
            # The oldest that is not answering. The newest half is spared: a probe's
            # request is read a moment after its connection is accepted, and a burst of
            # connections behind it must not evict it before then.
            older = itertools.islice(self.open, len(self.open) - self.max_connections // 2)
            victim = next((c for c in older if not c.busy), None)
            self._warn()
            if victim is None:
                return False
            victim.abort()
        self.open[connection] = None
        self.by_handler[connection.handler] = connection
        return True

    def _warn(self) -> None:
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            logger.warning(
                "the operations endpoint has %d connections open, its limit: closing the "
                "longest idle ones to make room (a client that opens connections and sends "
                "nothing?)",
                self.max_connections,
            )


class _Routes:
    """The three paths, answered on the server's loop."""

    def __init__(
        self,
        liveness: Callable[[], Probe],
        readiness: Callable[[], Probe],
        registry: CollectorRegistry | None,
        timeout: float,
    ) -> None:
        self._liveness = liveness
        self._readiness = readiness
        self._registry = registry
        self._timeout = timeout
        self.gate: _Gate | None = None
        self._renders: dict[str, asyncio.Future[bytes]] = {}
        self._next_render = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        assert self.gate is not None
        connection = self.gate.by_handler.get(request.protocol)
        if connection is not None:
            connection.requests += 1
            connection.busy = True
        try:
            response = await self._answer(request)
            try:
                # The answer leaves within the timeout, or the connection is cut: a
                # client that does not read cannot hold it.
                async with asyncio.timeout(self._timeout):
                    await response.prepare(request)
                    await response.write_eof()
            except TimeoutError:
                logger.debug("closing a connection that did not take its answer in time")
                if request.transport is not None:
                    request.transport.abort()
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s %s %s %d", request.remote, request.method, request.path, response.status
                )
            return response
        finally:
            if connection is not None:
                connection.busy = False

    async def _answer(self, request: web.BaseRequest) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return _response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                b"only GET and HEAD are served here\n",
                extra={"Allow": "GET, HEAD"},
            )
        path = request.path
        if path in ("/livez", "/readyz"):
            probe = self._liveness() if path == "/livez" else self._readiness()
            return _response(HTTPStatus(probe.status_code), (probe.reason + "\n").encode())
        if path == "/metrics":
            return await self._metrics(request)
        text = f"not found: {path}; this endpoint serves {_PATHS}\n"
        return _response(HTTPStatus.NOT_FOUND, text.encode())

    async def _metrics(self, request: web.BaseRequest) -> web.Response:
        if self._registry is None:
            return _response(HTTPStatus.NOT_IMPLEMENTED, _NO_PROMETHEUS.encode())
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        pending = self._renders.get(content_type)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._renders[content_type] = pending
            registry = self._registry
            # Shielded: one waiter that leaves must not cancel the others' rendering.
            task = asyncio.ensure_future(self._render(content_type, lambda: encoder(registry)))
            self._tasks.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._tasks.discard)
        try:
            output = await asyncio.shield(pending)
        except Exception:
            text = "collecting metrics failed; the log of tempest_sdk.runner.operations says why\n"
            return _response(HTTPStatus.INTERNAL_SERVER_ERROR, text.encode())
        return _response(HTTPStatus.OK, output, content_type=content_type)

    async def _render(self, content_type: str, render: Callable[[], bytes]) -> None:
        """Render once the pace allows; every scrape that came meanwhile gets the result."""
        loop = asyncio.get_running_loop()
        wait = self._next_render - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        # Requests from now on need a rendering that starts after they came.
        future = self._renders.pop(content_type)
        started = time.perf_counter()
        try:
            output = render()
        except Exception as exc:
            logger.exception("collecting metrics failed")
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
        else:
            future.set_result(output)
        took = time.perf_counter() - started
        pause = max(took * (1 / _METRICS_SHARE - 1), _METRICS_INTERVAL)
        self._next_render = loop.time() + min(pause, self._timeout)


def _response(
    status: HTTPStatus,
    payload: bytes,
    *,
    content_type: str = _PLAIN,
    extra: dict[str, str] | None = None,
) -> web.Response:
    headers = {
        "Content-Type": content_type,
        "Cache-Control": "no-store",
        "Server": "tempest_sdk",  # not aiohttp's and Python's versions
        **(extra or {}),
    }
    return web.Response(status=int(status), body=payload, headers=headers)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
