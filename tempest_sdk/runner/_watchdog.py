"""The event loop's watchdog: a heartbeat that other threads can read.

Blocking code in an async handler stalls every task of the runner. The watchdog
wakes every `tick` seconds and stamps the time (`time.monotonic()`, comparable
across threads):
- after a late wake-up it adds the lag to `blocked_seconds` and, if asked, logs a
  warning;
- while the loop is blocked, the stamp gets old: `blocked_for()`, read from the
  operations endpoint's thread, tells how long the loop has not answered (the
  liveness probe).
"""

from __future__ import annotations

import time

import anyio

from ._log import logger

__all__ = ["DEFAULT_THRESHOLD", "LoopWatchdog"]

DEFAULT_THRESHOLD = 1.0
"""Seconds without an answer that count as blocked when `blocked_loop_warning` is None."""


class LoopWatchdog:
    """Measures how long the event loop was, and is, unresponsive.

    Args:
        threshold: seconds of lag that count as blocked.
        warn: log a warning after each block (the `blocked_loop_warning` option).
    """

    def __init__(self, threshold: float, *, warn: bool) -> None:
        self.threshold = threshold
        self.warn = warn
        self.tick = min(0.5, threshold / 2)
        self.blocked_seconds = 0.0  # summed lag of every block seen
        self.blocks = 0
        self._beat: float | None = None  # None while not running

    @property
    def running(self) -> bool:
        """Whether the heartbeat is on (from the runner's start until its stop)."""
        return self._beat is not None

    def blocked_for(self) -> float:
        """Seconds the loop has been unresponsive now, beyond its expected wake-up;
        0.0 while it answers or when the watchdog is not running. Thread-safe."""
        beat = self._beat
        if beat is None:
            return 0.0
        return max(0.0, time.monotonic() - beat - self.tick)

    async def run(self) -> None:
        """Beat until cancelled."""
        tick = self.tick
        self._beat = time.monotonic()
        try:
            while True:
                before = time.monotonic()
                self._beat = before
                await anyio.sleep(tick)
                lag = time.monotonic() - before - tick
                if lag >= self.threshold:
                    self.blocks += 1
                    self.blocked_seconds += lag
                    if self.warn:
                        logger.warning(
                            "the event loop was blocked for %.1fs: a handler declared "
                            "`async def` probably calls blocking code (use `def` to run "
                            "it in a thread, or an async library)",
                            lag,
                            extra={"blocked_seconds": lag},
                        )
        finally:
            self._beat = None
