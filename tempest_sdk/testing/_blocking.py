"""The synchronous forms of the kit's coroutine functions (`invoke`, `replay`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["run_blocking"]

T = TypeVar("T")


def run_blocking(name: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call` in an event loop of its own: the body of the synchronous form `name`.

    Raises:
        RuntimeError: an event loop (asyncio or trio) runs in this thread already; the
            message says to await the coroutine form, `a<name>`, instead.
    """
    try:
        anyio.get_current_task()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(f"{name}() cannot run inside an event loop: use `await a{name}(...)`")
    return anyio.run(call)
