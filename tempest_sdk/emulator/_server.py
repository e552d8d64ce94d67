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
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from typing import Any

from ._answer import Answer
from ._core import Core

__all__ = ["HOST", "ServerThread"]

logger = logging.getLogger("tempest_sdk.emulator")

HOST = "127.0.0.1"

_MAX_BODY = 16 * 1024 * 1024
_MAX_LINE = 65536
_MAX_HEADERS = 100
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
    raw_requestline: bytes  # set by handle_one_request
    fields: dict[str, str]

    def parse_request(self) -> bool:
        # Replaces http.server's parser, whose email-based header parsing costs about
        # 50 us a request, a fifth of the server's time. Header names are lowercased.
        self.command = ""
        self.request_version = "HTTP/1.0"
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.send_error(400, "Bad request line")
            return False
        self.command, self.path, self.request_version = words
        fields: dict[str, str] = {}
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = line.decode("iso-8859-1").partition(":")
            if len(line) > _MAX_LINE or len(fields) >= _MAX_HEADERS or not colon:
                self.send_error(431 if colon else 400, "Bad request headers")
                return False
            fields[name.strip().lower()] = value.strip()
        self.fields = fields
        connection = fields.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if fields.get("expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

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
        answer = self.server.core.handle(self.command, self.path, self.fields, body)
        if answer.delay:
            time.sleep(answer.delay)
        if answer.drop:
            self.close_connection = True  # closed without a byte of answer
            return
        self._write(answer)

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method it has no do_<METHOD> for with 501; every
        # method goes to the core instead, which answers 405 with `Allow: POST`.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.fields.get("transfer-encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.fields.get("content-length") or 0)
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

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own error page is HTML; answer like the rest: an ErrorResponse.
        self._fail(code, message or HTTPStatus(code).phrase)

    def _fail(self, status: int, message: str) -> None:
        body = json.dumps({"status": "error", "error": message}).encode()
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
        # An answer to HEAD has the headers of the full answer and no body.
        self.wfile.write(head if self.command == "HEAD" else head + answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("emulator: " + format, *args)
