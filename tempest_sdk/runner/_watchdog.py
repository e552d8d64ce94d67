"""A watchdog that warns when the event loop was blocked (blocking code in an async
handler stalls every other task of the runner)."""

from __future__ import annotations

import anyio

from ._log import logger

__all__ = ["watch_event_loop"]


async def watch_event_loop(threshold: float) -> None:
    """Log a warning whenever the loop was unresponsive for `threshold` seconds or more."""
    tick = min(0.5, threshold / 2)
    while True:
        before = anyio.current_time()
        await anyio.sleep(tick)
        lag = anyio.current_time() - before - tick
        if lag >= threshold:
            logger.warning(
                "the event loop was blocked for %.1fs: a handler declared `async def` "
                "probably calls blocking code (use `def` to run it in a thread, or an "
                "async library)",
                lag,
                extra={"blocked_seconds": lag},
            )
