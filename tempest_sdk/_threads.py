"""Worker threads for plain handlers, including the ones a timeout leaves behind.

Python cannot stop a thread. When a plain (`def`) handler times out, or its task is
cancelled, the task ends at once but the thread runs on until the function returns.
On asyncio, anyio gives a thread's limiter token back as soon as its caller stops
waiting, so the next task would start one more thread: a backend that never answers
would add `concurrency` threads every timeout. Here an abandoned call keeps its token
until its thread returns, so the limiter bounds the threads that exist, not only the
threads awaited.

Abandoned threads outlive the event loop and the runner that started them, and the
interpreter waits for them at exit. So the record of them (`stuck_threads()`) is
process-wide, like the threads themselves; each entry is removed by its own thread.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
import sniffio

__all__ = ["HandlerThread", "stuck_threads"]

_LOGGER = logging.getLogger("tempest_sdk.app")

T = TypeVar("T")


class _State(enum.Enum):
    PENDING = "pending"  # waiting for a token or a thread
    DROPPED = "dropped"  # given up before the thread started: the function never runs
    RUNNING = "running"
    ABANDONED = "abandoned"  # given up while the function runs: it keeps its token
    RETURNED = "returned"


# Guards every state change and `_abandoned`: both the event loop and the worker
# threads write them.
_lock = threading.Lock()
_abandoned: dict[HandlerThread, None] = {}  # an ordered set: oldest first


def stuck_threads(since: float = float("-inf")) -> list[str]:
    """The plain handlers whose task ended (timed out or cancelled) but whose thread runs on.

    Args:
        since: Only those called at or after this `time.monotonic()` reading.

    Returns:
        One description per thread, first abandoned first, such as
        `"update of 'widget' (task t-1, running for 312.0s)"`.
    """
    now = time.monotonic()
    with _lock:
        return [thread.describe(now) for thread in _abandoned if thread._since >= since]


class HandlerThread:
    """One call of a plain handler in a worker thread.

    With a limiter, the call borrows one of its tokens from before its thread starts
    until its function returns, even when the caller stops waiting first. Without
    one, it runs under anyio's default limiter, whose token anyio returns at once
    (other code shares that limiter: a stuck handler must not starve it).

    Args:
        what: The handler, for messages (`update of 'widget'`).
        task_id: The task it runs for, for messages ("" if none).
        limiter: Bounds the threads of plain handlers, stuck ones included.
    """

    __slots__ = ("_limiter", "_reported", "_since", "_soon", "_state", "task_id", "what")

    def __init__(self, what: str, task_id: str, limiter: anyio.CapacityLimiter | None) -> None:
        self.what = what
        self.task_id = task_id
        self._limiter = limiter
        self._state = _State.PENDING
        self._since = 0.0
        self._reported = False
        self._soon: Callable[[Callable[[], object]], object] | None = None

    @property
    def started(self) -> bool:
        """Whether the function was called (False: the caller gave up while it waited)."""
        return self._state not in (_State.PENDING, _State.DROPPED)

    def describe(self, now: float) -> str:
        """The handler, its task and how long it has been running, in words."""
        task = f"task {self.task_id}, " if self.task_id else ""
        return f"{self.what} ({task}running for {now - self._since:.1f}s)"

    async def run(self, fn: Callable[[], T]) -> T:
        """Call `fn` in a worker thread and return its result.

        If the caller is cancelled, the thread is abandoned (it runs on, its result
        discarded) and keeps its limiter token until `fn` returns.
        """
        limiter = self._limiter
        own: anyio.CapacityLimiter | None = None
        if limiter is not None:
            try:
                limiter.acquire_on_behalf_of_nowait(self)
            except anyio.WouldBlock:
                _report_if_exhausted(limiter)
                await limiter.acquire_on_behalf_of(self)
            # The token above is the bound; a limiter of its own keeps anyio from
            # also taking (and, on cancel, returning) one of its default limiter's.
            own = anyio.CapacityLimiter(1)
            self._soon = _call_soon()
        try:
            return await anyio.to_thread.run_sync(
                self._call, fn, abandon_on_cancel=True, limiter=own
            )
        finally:
            self._leave()

    def _call(self, fn: Callable[[], T]) -> T:
        """In the worker thread: `fn()`, unless the caller already gave up."""
        with _lock:
            if self._state is _State.DROPPED:
                # Cancelled before the thread picked it up: never start it late.
                return None  # type: ignore[return-value]  # nobody awaits it any more
            self._state = _State.RUNNING
            self._since = time.monotonic()
        try:
            return fn()
        finally:
            self._returned()

    def _leave(self) -> None:
        """In the event loop, once the caller stops waiting: give the token back or keep it."""
        with _lock:
            if self._state is _State.RUNNING:
                self._state = _State.ABANDONED
                _abandoned[self] = None
                return  # `_returned` gives the token back
            if self._state is _State.PENDING:
                self._state = _State.DROPPED
        if self._limiter is not None:
            self._limiter.release_on_behalf_of(self)

    def _returned(self) -> None:
        """In the worker thread, once `fn` returned or raised."""
        with _lock:
            abandoned = self._state is _State.ABANDONED
            self._state = _State.RETURNED
        if not abandoned:
            return  # `_leave` gives the token back
        _LOGGER.info(
            "%s%s returned after %.1fs, after its task had ended; its result was discarded",
            self.what,
            f" (task {self.task_id})" if self.task_id else "",
            time.monotonic() - self._since,
            extra={"task_id": self.task_id} if self.task_id else None,
        )
        try:
            if self._soon is not None:
                # Handed to the event loop without waiting for it: a loop that stopped
                # but is not closed yet (a run ending) would never answer, and this
                # thread would then keep the interpreter from exiting.
                self._soon(self._give_back)
        except RuntimeError:  # the event loop is closed, and its limiter gone with it
            pass
        finally:
            # Last: until here the thread is alive, and a standalone run must know it.
            with _lock:
                del _abandoned[self]

    def _give_back(self) -> None:
        """In the event loop: return the token an abandoned call kept. Never raises
        (trio does not allow it of a callback)."""
        try:
            if self._limiter is not None:
                self._limiter.release_on_behalf_of(self)
        except Exception:  # pragma: no cover - the token was ours; nothing else to do
            _LOGGER.exception("could not return the thread token of %s", self.what)


def _call_soon() -> Callable[[Callable[[], object]], object]:
    """A way to run a callback in the running event loop from another thread, without
    waiting for it (raises RuntimeError once the loop is closed)."""
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    import asyncio

    return asyncio.get_running_loop().call_soon_threadsafe


def _report_if_exhausted(limiter: anyio.CapacityLimiter) -> None:
    """Log an ERROR if every token of `limiter` is held by an abandoned thread.

    Once per episode: again only when a thread not named before is among them.
    """
    with _lock:
        stuck = [thread for thread in _abandoned if thread._limiter is limiter]
        if len(stuck) < limiter.total_tokens or all(thread._reported for thread in stuck):
            return
        for thread in stuck:
            thread._reported = True
        now = time.monotonic()
        names = "; ".join(thread.describe(now) for thread in stuck)
    _LOGGER.error(
        "all %d worker threads for plain handlers are held by handlers that timed out or "
        "were cancelled and have not returned; tasks with plain handlers wait until one "
        "returns: %s. Python cannot stop a thread: give blocking calls their own timeouts",
        len(stuck),
        names,
    )
