"""Running a runner from synchronous code, in a background thread."""

from __future__ import annotations

import concurrent.futures
import contextlib
from typing import Any, Generic, Protocol, TypeVar

import anyio.from_thread

__all__ = ["RunnerThread"]


class _Serves(Protocol):
    """What a thread needs of a runner: its lifecycle."""

    async def run(self) -> None: ...
    async def ready(self) -> None: ...
    async def shutdown(self, grace: float | None = None) -> None: ...
    def abort(self) -> None: ...


R = TypeVar("R", bound=_Serves)


class RunnerThread(Generic[R]):
    """A handle on a runner serving in a background thread (its own event loop).

    Obtained from `Runner.start_in_thread()`; use it as a context manager or call
    `stop()`. Its methods are thread-safe. `runner` is the runner it serves.
    """

    def __init__(
        self,
        runner: R,
        portal_cm: contextlib.AbstractContextManager[anyio.from_thread.BlockingPortal],
        portal: anyio.from_thread.BlockingPortal,
        future: concurrent.futures.Future[None],
    ) -> None:
        self.runner = runner
        self._portal_cm: contextlib.AbstractContextManager[Any] | None = portal_cm
        self._portal = portal
        self._future = future

    @classmethod
    def start(cls, runner: R, *, ready_timeout: float | None = 60.0) -> RunnerThread[R]:
        """Start `runner` in a new thread and wait until it is ready.

        Raises:
            RunnerStartupError: the runner could not start.
            TimeoutError: it was not ready within `ready_timeout` seconds.
        """
        portal_cm = anyio.from_thread.start_blocking_portal("asyncio")
        portal = portal_cm.__enter__()
        future = portal.start_task_soon(runner.run)
        handle = cls(runner, portal_cm, portal, future)
        try:
            ready = portal.start_task_soon(runner.ready)
            try:
                ready.result(timeout=ready_timeout)
            except concurrent.futures.TimeoutError:
                raise TimeoutError(
                    f"the runner was not ready within {ready_timeout}s; check the endpoint "
                    "and the logs of tempest_sdk.runner"
                ) from None
        except BaseException:
            handle.abort()
            raise
        return handle

    @property
    def running(self) -> bool:
        """Whether the runner has not returned yet."""
        return not self._future.done()

    def stop(self, grace: float | None = None) -> None:
        """Stop gracefully (see `Runner.shutdown`) and wait until the thread has ended.

        Raises:
            Exception: whatever made the runner fail, if it did.
        """
        if self._portal_cm is None:
            return
        if not self._future.done():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                self._portal.call(self.runner.shutdown, grace)
        self._close()

    def abort(self) -> None:
        """Stop at once (see `Runner.abort`) and wait until the thread has ended."""
        if self._portal_cm is None:
            return
        if not self._future.done():
            with contextlib.suppress(RuntimeError):
                self._portal.call(self.runner.abort)
        with contextlib.suppress(Exception):
            self._close()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the runner returns (after a stop asked elsewhere).

        Raises:
            TimeoutError: it did not return within `timeout` seconds.
        """
        try:
            self._future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"the runner did not stop within {timeout}s") from None

    def _close(self) -> None:
        portal_cm, self._portal_cm = self._portal_cm, None
        try:
            self._future.result()
        finally:
            if portal_cm is not None:
                portal_cm.__exit__(None, None, None)

    def __enter__(self) -> RunnerThread[R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
