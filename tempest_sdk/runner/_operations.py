"""The operations endpoint: liveness, readiness and metrics over HTTP for probes and
scrapers.

- `GET /livez`: 200 while the event loop answers; 503 while it has been blocked for
  longer than the watchdog's threshold.
- `GET /readyz`: 200 once the runner is connected and polling with an accepted token;
  503 while starting, after the token was refused, while draining, and stopped.
- `GET /metrics`: the Prometheus text format, written by prometheus-client's own
  exposition functions; 501 when prometheus-client is not installed.

It is the standard library's `ThreadingHTTPServer` in a daemon thread: requests are
answered on their own threads, so a blocked event loop cannot keep `/livez` from
saying so, and nothing runs on the loop. The server starts with the runner and shuts
down when the runner has stopped. Module imported only when the endpoint is on.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

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


class OperationsServer:
    """Serves `/livez`, `/readyz` and `/metrics` from a daemon thread.

    Args:
        host: the address to listen on.
        port: the port; 0 picks a free one (read `url`).
        liveness: answers `/livez` (called on the server's threads).
        readiness: answers `/readyz` (called on the server's threads).
        registry: the registry `/metrics` serves, or None when prometheus-client is
            not installed.

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
    ) -> None:
        server_class = _Server6 if ":" in host else _Server
        try:
            self._server = server_class((host, port), _Handler)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise RunnerStartupError(
                f"cannot serve the operations endpoint on {_join(host, port)}: {reason}. "
                "Fix: choose another address with operations_address= or "
                "TEMPEST_RUNNER_OPERATIONS_ADDRESS (HOST:PORT), or stop what listens there"
            ) from None
        self._server.operations = (liveness, readiness, registry)
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{_join(str(bound_host), int(bound_port))}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name=f"tempest_sdk operations endpoint {self.url}",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "operations endpoint listening on %s (%s)", self.url, _PATHS, extra={"url": self.url}
        )

    async def aclose(self) -> None:
        """Stop serving and release the port (without blocking the event loop)."""
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._close)

    def _close(self) -> None:
        self._server.shutdown()  # waits for serve_forever's poll (0.5 s at most)
        self._server.server_close()
        self._thread.join()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Kubernetes probes and a scraper connect at once now and then: more than the
    # default backlog of 5 avoids resets.
    request_queue_size = 64
    operations: tuple[Callable[[], Probe], Callable[[], Probe], CollectorRegistry | None]

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's name (socket.getfqdn), which
        # may stall on a container's resolver; nothing here needs that name.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Buffered: the status line, headers and body leave in one write (separate small
    # writes meet delayed ACKs).
    wbufsize = 64 * 1024

    def version_string(self) -> str:
        return "tempest_sdk"  # not the Python version, as http.server would add

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _refuse_method(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            b"only GET and HEAD are served here\n",
            extra={"Allow": "GET, HEAD"},
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def _answer(self, *, body: bool) -> None:
        liveness, readiness, registry = self.server.operations
        path = urlsplit(self.path).path
        if path in ("/livez", "/readyz"):
            probe = liveness() if path == "/livez" else readiness()
            self._send(HTTPStatus(probe.status_code), (probe.reason + "\n").encode(), body=body)
        elif path == "/metrics":
            self._metrics(registry, body=body)
        else:
            text = f"not found: {path}; this endpoint serves {_PATHS}\n"
            self._send(HTTPStatus.NOT_FOUND, text.encode(), body=body)

    def _metrics(self, registry: CollectorRegistry | None, *, body: bool) -> None:
        if registry is None:
            self._send(HTTPStatus.NOT_IMPLEMENTED, _NO_PROMETHEUS.encode(), body=body)
            return
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        try:
            output = encoder(registry)
        except Exception:
            logger.exception("collecting metrics failed")
            text = "collecting metrics failed; the log of tempest_sdk.runner.operations says why\n"
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, text.encode(), body=body)
            return
        self._send(HTTPStatus.OK, output, content_type=content_type, body=body)

    def _send(
        self,
        status: HTTPStatus,
        payload: bytes,
        *,
        content_type: str = "text/plain; charset=utf-8",
        body: bool = True,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # http.server writes to stderr; a library logs through logging, quietly.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), format % args)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
