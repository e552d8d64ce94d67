"""A handler's traceback as its author needs it: their frames, not the SDK's plumbing."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import traceback
from pathlib import Path

__all__ = ["FULL_TRACEBACKS_ENV", "handler_traceback"]

FULL_TRACEBACKS_ENV = "TEMPEST_FULL_TRACEBACKS"
"""Set to 1 to log handlers' tracebacks whole (`tempest-sdk ... --full-tracebacks`)."""

# Frames from these packages (and contextlib's, which enters lifespans) are the path
# from the runner to the handler: the same in every traceback, and in the way of the
# handler's own frames.
_PLUMBING_PACKAGES = ("tempest_sdk", "anyio", "asyncio")
_PLUMBING_FILES = (str(Path(contextlib.__file__).resolve()),)


@functools.cache
def _plumbing_dirs() -> tuple[str, ...]:
    dirs = []
    for name in _PLUMBING_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            dirs.append(str(Path(spec.origin).resolve().parent) + os.sep)
    return tuple(dirs)


def handler_traceback(exc: BaseException) -> str:
    """`exc`'s traceback without the frames of tempest_sdk, anyio, asyncio and contextlib (unless
    `TEMPEST_FULL_TRACEBACKS=1`), saying how many were left out."""
    if os.environ.get(FULL_TRACEBACKS_ENV) == "1":
        return "".join(traceback.format_exception(exc))
    summary = traceback.TracebackException.from_exception(exc)
    hidden = _trim(summary)
    text = "".join(summary.format())
    if hidden:
        text += (
            f"({hidden} frame(s) of tempest_sdk, anyio, asyncio and contextlib left out; "
            f"{FULL_TRACEBACKS_ENV}=1 shows them)\n"
        )
    return text


def _trim(summary: traceback.TracebackException) -> int:
    hidden = 0
    seen: set[int] = set()
    current: traceback.TracebackException | None = summary
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = list(current.stack)
        kept = [frame for frame in frames if not _plumbing(frame.filename)]
        if kept and len(kept) < len(frames):
            hidden += len(frames) - len(kept)
            current.stack = traceback.StackSummary.from_list(kept)
        current = current.__cause__ or current.__context__
    return hidden


def _plumbing(filename: str) -> bool:
    try:
        path = str(Path(filename).resolve())
    except OSError:  # pragma: no cover
        return False
    return path.startswith(_plumbing_dirs()) or path in _PLUMBING_FILES
