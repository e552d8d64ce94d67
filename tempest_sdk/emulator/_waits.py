"""Waiting for an emulator: blocking and async waits, each with a timeout that says why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import anyio

from ._inspection import Inspection

__all__ = ["Waits"]

Received = list[dict[str, Any]]
_Counted = Literal["reported tasks", "connects", "health reports"]


class Waits(Inspection):
    """Waits for reports, connects and health reports; they return what `Inspection` shows."""

    def wait_for_reports(self, n: int = 1, timeout: float = 10.0) -> list[str]:
        """Block until `n` distinct tasks are reported; return the reported task ids.

        Raises:
            TimeoutError: fewer were reported within `timeout` seconds; the message
                says how far it got and the last violation, if any.
        """
        self._wait(*self._at_least(n, "reported tasks"), timeout)
        return self.reported()

    async def wait_for_reports_async(self, n: int = 1, timeout: float = 10.0) -> list[str]:
        """Like `wait_for_reports`, without blocking the event loop."""
        await self._wait_async(*self._at_least(n, "reported tasks"), timeout)
        return self.reported()

    def wait_for_connects(self, n: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until `n` connects were accepted; return them."""
        self._wait(*self._at_least(n, "connects"), timeout)
        return self.connects

    async def wait_for_connects_async(self, n: int = 1, timeout: float = 10.0) -> Received:
        """Like `wait_for_connects`, without blocking the event loop."""
        await self._wait_async(*self._at_least(n, "connects"), timeout)
        return self.connects

    def wait_for_health_reports(self, n: int = 1, timeout: float = 10.0) -> Received:
        """Block until `n` health reports were accepted; return them."""
        self._wait(*self._at_least(n, "health reports"), timeout)
        return self.health_reports

    async def wait_for_health_reports_async(self, n: int = 1, timeout: float = 10.0) -> Received:
        """Like `wait_for_health_reports`, without blocking the event loop."""
        await self._wait_async(*self._at_least(n, "health reports"), timeout)
        return self.health_reports

    def _at_least(self, n: int, what: _Counted) -> tuple[Callable[[], bool], str]:
        """Whether `n` of `what` arrived (called under the lock), and the words for it."""
        return lambda: self._count(what) >= n, f"{n} {what}"

    def _count(self, what: _Counted) -> int:
        core = self._core
        if what == "connects":
            return len(core.connects)
        if what == "health reports":
            return len(core.health_reports)
        return len(core.store.reported_order)

    def _wait(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        with self._core.changed:
            if self._core.changed.wait_for(done, timeout):
                return
        raise TimeoutError(self._timeout_message(what, timeout))

    async def _wait_async(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        # Polling, because the state changes in whichever thread serves the request.
        delay = 0.001
        with anyio.move_on_after(timeout):
            while True:
                with self._core.lock:
                    if done():
                        return
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.02)
        raise TimeoutError(self._timeout_message(what, timeout))

    def _timeout_message(self, what: str, timeout: float) -> str:
        core = self._core
        with core.lock:
            core.store.expire(core.clock())
            store = core.store
            state = (
                f"{len(store.reported_order)} reported, {len(store.in_state('leased'))} leased, "
                f"{len(store.in_state('queued'))} queued; {len(core.connects)} connects, "
                f"{len(core.health_reports)} health reports, {sum(core.request_counts.values())} "
                f"requests, {len(core.violations)} violations"
            )
            last = f"; last violation: {core.violations[-1].message}" if core.violations else ""
        return f"waited {timeout:g} s for {what}: {state}{last}"
