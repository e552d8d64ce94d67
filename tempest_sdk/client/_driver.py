"""The hand-kept half of each client: what cannot be written once for both flavours.

`_async.py` is the client; `_sync.py` is generated from it by `tools/unasync.py`,
which renames each `async_*` / `Async*` name below to its `sync_*` / `Sync*` twin.
So everything that differs in substance, not only in `await`, lives here in pairs:
building the transport (the async one depends on the running event loop), sleeping,
and holding an attempt to its deadline (a cancel scope in async code; checks between
reads, and every phase's timeout capped, in blocking code, which cannot be cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, cast

import anyio
import httpx
import sniffio

from ._http import AttemptTimeout, build_async_http, build_sync_http

__all__ = [
    "AsyncChunks",
    "AsyncHttp",
    "AsyncSleep",
    "Deadline",
    "SyncChunks",
    "SyncHttp",
    "SyncSleep",
    "async_attempt",
    "async_sleep",
    "open_async_http",
    "open_sync_http",
    "sync_attempt",
    "sync_sleep",
]

AsyncHttp = httpx.AsyncClient | httpx.AsyncBaseTransport
"""What the async client sends through: a transport, straight, or an httpx client."""
SyncHttp = httpx.Client | httpx.BaseTransport
"""What the sync client sends through: a transport, straight, or an httpx client."""

AsyncChunks = AsyncGenerator[bytes, None]
"""An answer's raw body, as `Response.aiter_raw()` gives it (closable)."""
SyncChunks = Generator[bytes, None, None]
"""An answer's raw body, as `Response.iter_raw()` gives it (closable)."""

AsyncSleep = Callable[[float], Awaitable[None]]
SyncSleep = Callable[[float], None]

async_sleep: AsyncSleep = anyio.sleep
"""Waits between attempts on whatever event loop runs (asyncio or trio)."""
sync_sleep: SyncSleep = time.sleep
"""Waits between attempts by blocking the calling thread."""


def open_async_http(
    *, context: ssl.SSLContext, trust_env: bool, timeout: httpx.Timeout, max_connections: int
) -> AsyncHttp:
    """The async client's own transport, for the event loop running now."""
    return build_async_http(
        sniffio.current_async_library(),
        context=context,
        trust_env=trust_env,
        timeout=timeout,
        max_connections=max_connections,
    )


def open_sync_http(
    *, context: ssl.SSLContext, trust_env: bool, timeout: httpx.Timeout, max_connections: int
) -> SyncHttp:
    """The sync client's own transport."""
    return build_sync_http(
        context=context, trust_env=trust_env, timeout=timeout, max_connections=max_connections
    )


class Deadline:
    """The end of one attempt, checked as each piece of the answer arrives.

    Attributes:
        polled: True when the deadline is only seen by `check()` (blocking code):
            then the answer is read piece by piece, never in one blocking read.
    """

    __slots__ = ("_at", "_seconds", "polled")

    def __init__(self, seconds: float | None, *, polled: bool) -> None:
        self._seconds = math.inf if seconds is None else seconds
        self._at = time.monotonic() + self._seconds
        self.polled = polled and seconds is not None

    def check(self) -> None:
        """Raise `AttemptTimeout` once the deadline has passed."""
        if time.monotonic() >= self._at:
            raise AttemptTimeout(self._seconds)


class async_attempt:
    """Hold the enclosed attempt to `seconds`: cancel it there and raise `AttemptTimeout`.

    A cancellation reaches whatever the transport is waiting on (connecting, a pool
    slot, the next bytes of the answer), so the attempt ends at the deadline itself.
    It runs around every request, so it uses each event loop's own timeout
    (`asyncio.timeout`, trio's cancel scope): anyio's `fail_after` costs twice as much.
    """

    __slots__ = ("_deadline", "_scope", "_seconds")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._deadline = Deadline(seconds, polled=False)
        self._scope: Any = None

    async def __aenter__(self) -> Deadline:
        seconds = self._seconds
        if seconds is not None:
            if sniffio.current_async_library() == "trio":
                import trio

                self._scope = trio.CancelScope(deadline=trio.current_time() + seconds)
                self._scope.__enter__()
            else:
                self._scope = asyncio.timeout(seconds)
                await self._scope.__aenter__()
        return self._deadline

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Never swallows: the attempt's own exception, or AttemptTimeout, goes on. A
        # failure after the deadline fired (a transport turning the cancellation into
        # an error of its own) is the deadline's too. Nothing is chained to it: the
        # client reads a transport error's cause as the error it stands for.
        scope = self._scope
        if scope is None:
            return
        seconds = cast(float, self._seconds)
        if isinstance(scope, asyncio.Timeout):
            try:
                await scope.__aexit__(exc_type, exc, tb)
            except TimeoutError:
                if scope.expired():
                    raise AttemptTimeout(seconds) from None
                raise
            if exc is not None and scope.expired():
                raise AttemptTimeout(seconds) from None
            return
        scope.__exit__(exc_type, exc, tb)
        if scope.cancel_called and (scope.cancelled_caught or exc is not None):
            raise AttemptTimeout(seconds) from None


@contextlib.contextmanager
def sync_attempt(seconds: float | None) -> Iterator[Deadline]:
    """Hold the enclosed attempt to `seconds` as far as blocking code can.

    A blocked read cannot be interrupted, so the deadline is checked when the answer's
    head has arrived and after every piece of its body, and each phase's own timeout
    is capped at `seconds` (`BaseClient._build_request`). An answer dripped slowly thus
    ends at the deadline plus at most one wait for the next piece.
    """
    yield Deadline(seconds, polled=True)
