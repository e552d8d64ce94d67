"""The socket server: the standard library's threading HTTP server, on loopback only.

Measured against an anyio + h11 server on the same core (benchmarks/bench_emulator.py),
it sustains more pairs per second: a loopback `send` costs this process hundreds of
microseconds, which a thread per connection overlaps with other work while an event
loop has to wait it out. Each answer goes out in one write (headers and body), so
keep-alive never meets delayed ACKs, and TCP_NODELAY is set for good measure.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import socket
import threading
import time
from http import HTTPStatus
from typing import Any

from ._core import Answer, Core

__all__ = ["HOST", "ServerThread"]

logger = logging.getLogger("tempest_sdk.emulator")

HOST = "127.0.0.1"

_MAX_BODY = 16 * 1024 * 1024
# How often serve_forever checks for shutdown: stopping waits this long at most.
_POLL_INTERVAL = 0.02


class ServerThread:
    """A threading HTTP server for one emulator core, bound at construction."""

    def __init__(self, core: Core, port: int = 0) -> None:
        self._server = _Server(core, port)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"tempest-emulator-{self.port}",
            daemon=True,
        )

    def start(self) -> None:
        """Start accepting connections."""
        self._thread.start()
        logger.info("emulator: serving on %s:%d", HOST, self.port)

    def stop(self) -> None:
        """Stop accepting, close every open connection, and wait for the server thread."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The default backlog of 5 resets clients when dozens connect at once.
    request_queue_size = 1024

    def __init__(self, core: Core, port: int) -> None:
        super().__init__((HOST, port), _Handler)
        self.core = core
        self._live: set[socket.socket] = set()
        self._live_lock = threading.Lock()

    def track(self, sock: socket.socket, *, live: bool) -> None:
        with self._live_lock:
            if live:
                self._live.add(sock)
            else:
                self._live.discard(sock)

    def close_connections(self) -> None:
        # Keep-alive connections would otherwise go on being served after a stop.
        with self._live_lock:
            live = list(self._live)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, live=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, live=False)

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.core.handle(self.command, self.path, headers, body)
        if answer.delay:
            time.sleep(answer.delay)
        if answer.drop:
            self.close_connection = True  # closed without a byte of answer
            return
        self._write(answer)

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._fail(400, "invalid Content-Length header")
            return None
        if length > _MAX_BODY:
            self._fail(413, "request body larger than 16 MiB")
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                length = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self._fail(400, "malformed chunked request body")
                return None
            if length == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(chunks)
            size += length
            if size > _MAX_BODY:
                self._fail(413, "request body larger than 16 MiB")
                return None
            chunks.append(self.rfile.read(length))
            self.rfile.readline(16)

    def _fail(self, status: int, message: str) -> None:
        body = f'{{"status":"error","error":"{message}"}}'.encode()
        self._write(Answer(status, [("content-type", "application/json")], body), close=True)

    def _write(self, answer: Answer, *, close: bool = False) -> None:
        try:
            reason = HTTPStatus(answer.status).phrase
        except ValueError:
            reason = "Status"
        lines = [f"HTTP/1.1 {answer.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in answer.headers]
        if answer.status != 204:
            lines.append(f"content-length: {len(answer.body)}")
        if close:
            self.close_connection = True
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("emulator: " + format, *args)
