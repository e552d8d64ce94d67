"""The young generation's collection threshold while runners serve.

CPython collects its young generation after every `threshold0` (700) more container
objects allocated than freed, and each collection walks every young object still alive.
A busy runner keeps hundreds of objects alive per task in flight (request, response,
task, report, timers): at concurrency 256 and 100 ms latency that is tens of thousands
of young objects walked every 700 allocations, about a fifth of the runner's CPU, for
almost no garbage (see docs/runner.md). Raising `threshold0` in proportion to
concurrency keeps the collector's work per task the same at every concurrency.

The threshold is the process's: it is only ever raised (a higher one the program set is
kept), left alone while the program has turned the collector off, and given back when
the last runner that raised it stops, unless the program changed it meanwhile.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["AUTO_PER_SLOT", "AUTO_MOST", "auto_threshold", "young_threshold"]

logger = logging.getLogger("tempest_sdk.runner")

AUTO_PER_SLOT = 200
"""Young objects allowed per slot of concurrency before a collection (`"auto"`)."""
AUTO_MOST = 100_000
"""The highest threshold `"auto"` sets, whatever the concurrency."""

_lock = threading.Lock()
_held: list[int] = []  # the thresholds of the runners serving now
_before: int | None = None  # the program's threshold0, to give back at the end
_set: int | None = None  # what we set it to last


def auto_threshold(concurrency: int) -> int:
    """The threshold `gc_threshold="auto"` sets for `concurrency`: never below Python's."""
    return min(max(700, AUTO_PER_SLOT * concurrency), AUTO_MOST)


@contextmanager
def young_threshold(threshold: int | None) -> Iterator[None]:
    """Raise the young generation's threshold to at least `threshold` inside the block;
    `None` leaves the collector alone."""
    if threshold is None:
        yield
        return
    _hold(threshold)
    try:
        yield
    finally:
        _release(threshold)


def _hold(threshold: int) -> None:
    global _before, _set
    with _lock:
        current, *older = gc.get_threshold()
        if not _held or current != (_before if _set is None else _set):
            # The program's value (first hold, or set by the program since): the one
            # to give back.
            _before = current
            _set = None
        _held.append(threshold)
        if not gc.isenabled() or current == 0 or current >= threshold:
            return  # the program's choice: off, or already at least as high
        gc.set_threshold(threshold, *older)
        _set = threshold
    logger.debug("young GC threshold raised from %d to %d while serving", current, threshold)


def _release(threshold: int) -> None:
    global _before, _set
    with _lock:
        _held.remove(threshold)
        current, *older = gc.get_threshold()
        # Ours to change only if it is still what we set: a value the program set
        # meanwhile stands.
        if current == _set and _before is not None:
            _set = max([_before, *_held])
            gc.set_threshold(_set, *older)
        if not _held:
            _before = _set = None
