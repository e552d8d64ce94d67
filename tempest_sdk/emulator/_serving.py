"""The emulator's server lifecycle: its address, serving on loopback, and its clients."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.to_thread

from ._core import IN_PROCESS_ROOT, Answer, Core
from ._server import ServerThread
from ._transport import EmulatorTransport

if TYPE_CHECKING:
    from ..client import AsyncTempestClient, TempestClient

__all__ = ["Serving", "check_page_size", "check_positive"]


class Serving:
    """How an emulator is reached: its settings, a loopback server, transports, clients."""

    _core: Core

    @property
    def token(self) -> str:
        """The bearer token clients must send."""
        return self._core.token

    def rotate_token(self, token: str) -> None:
        """Accept only `token` from now on, as Tempest does once an API token is rotated:
        calls with the old one are answered 401."""
        if not token or token.strip() != token:
            raise ValueError("token must be a non-empty string without surrounding whitespace")
        self._core.token = token

    @property
    def base_path(self) -> str:
        """The path the endpoints live under, e.g. `/api/v1`."""
        return self._core.base_path

    @property
    def url(self) -> str:
        """The API base URL: `http://127.0.0.1:<port>/api/v1` while serving.

        When not serving it points at port 0, which never answers: use it with
        `transport()` (as `client()` does).
        """
        return self._core.root_url + self._core.base_path

    @property
    def serving(self) -> bool:
        """Whether a socket server is running for this emulator."""
        return self._core.root_url != IN_PROCESS_ROOT

    @property
    def lease_timeout(self) -> float:
        """Seconds a handed-out task waits for its report before it is handed out again."""
        return self._core.lease_timeout

    @lease_timeout.setter
    def lease_timeout(self, value: float) -> None:
        check_positive("lease_timeout", value)
        with self._core.lock:
            self._core.lease_timeout = float(value)

    def set_page_size(self, page_size: int) -> None:
        """Set how many items a page of the `*.list` endpoints holds."""
        check_page_size(page_size)
        with self._core.lock:
            self._core.page_size = page_size

    @contextmanager
    def serve_in_thread(self, *, port: int = 0) -> Iterator[Self]:
        """Serve on 127.0.0.1 from background threads for the block.

        Args:
            port: the port; 0 picks a free one (read it from `url`).
        """
        server = self._start(port)
        try:
            yield self
        finally:
            self._stop(server)

    @asynccontextmanager
    async def serve(self, *, port: int = 0) -> AsyncIterator[Self]:
        """Serve on 127.0.0.1 for the block, from an async context (asyncio or trio).

        The server runs in background threads, so it never competes with the event
        loop for time, and stopping it never blocks the loop. `port` is as for
        `serve_in_thread`.
        """
        server = self._start(port)
        try:
            yield self
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._stop, server)

    def _start(self, port: int) -> ServerThread:
        with self._core.lock:
            if self._core.root_url != IN_PROCESS_ROOT:
                raise RuntimeError(f"this emulator is already serving at {self.url}")
            server = ServerThread(self._core, port)
            self._core.root_url = f"http://127.0.0.1:{server.port}"
        server.start()
        return server

    def _stop(self, server: ServerThread) -> None:
        self._core.root_url = IN_PROCESS_ROOT
        server.stop()

    def transport(self) -> EmulatorTransport:
        """An httpx transport (sync and async) that reaches this emulator without sockets."""
        return EmulatorTransport(self._core)

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one HTTP request (for custom servers); header names in lowercase."""
        return self._core.handle(method, target, headers, body)

    def client(self, **kwargs: Any) -> AsyncTempestClient:
        """An `AsyncTempestClient` for this emulator: its URL and token, and its
        in-process transport when it is not serving. Keyword arguments go to the client.
        """
        from ..client import AsyncTempestClient

        return AsyncTempestClient(**self._client_options(kwargs))

    def sync_client(self, **kwargs: Any) -> TempestClient:
        """A `TempestClient` (synchronous) for this emulator, like `client()`."""
        from ..client import TempestClient

        return TempestClient(**self._client_options(kwargs))

    def _client_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs.setdefault("token", self.token)
        kwargs.setdefault("endpoint", self.url)
        if not self.serving and "http_client" not in kwargs:
            kwargs.setdefault("transport", self.transport())
        return kwargs


def check_positive(name: str, value: float) -> None:
    """Refuse anything but a positive, finite number of seconds."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


def check_page_size(page_size: int) -> None:
    """Refuse a page size below 1."""
    if not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size must be an integer >= 1, not {page_size!r}")
