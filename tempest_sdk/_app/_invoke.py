"""Calling a handler: directly when it is async, in a worker thread when it is not."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from ._handlers import HandlerDefinition

if TYPE_CHECKING:
    import anyio

__all__ = ["HandlerTimeout", "call_arguments", "invoke"]


class HandlerTimeout(Exception):
    """The handler ran past its timeout (and was cancelled, or its thread abandoned)."""

    def __init__(self, seconds: float, *, waiting: bool = False) -> None:
        where = " waiting for a free worker thread" if waiting else ""
        super().__init__(f"timed out after {seconds:g}s{where}")
        self.seconds = seconds


def call_arguments(
    handler: HandlerDefinition, values: tuple[Any, Any, Any, Any, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of a call, from `(context, resource, input, cursor, state)`."""
    kwargs = {name: pick(values)[0] for name, pick in handler.kwargs} if handler.kwargs else {}
    return handler.args(values), kwargs


async def invoke(
    handler: HandlerDefinition,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
    limiter: anyio.CapacityLimiter | None,
    *,
    task_id: str = "",
) -> Any:
    """Call the handler and return its result.

    An async handler is awaited in the caller's task: no thread, no new task. A plain
    one runs in a worker thread; when the timeout expires (or the caller is
    cancelled) that thread is abandoned, since Python cannot stop it, and it keeps
    its `limiter` token until it returns (see `HandlerThread`).

    Raises:
        HandlerTimeout: the timeout expired.
        Exception: whatever the handler raised.
    """
    import anyio

    from .._threads import HandlerThread

    fn = handler.fn
    if handler.is_async:
        if timeout is None:
            return await fn(*args, **kwargs)
        with anyio.move_on_after(timeout):
            return await fn(*args, **kwargs)
        raise HandlerTimeout(timeout)
    call = functools.partial(fn, *args, **kwargs)
    thread = HandlerThread(handler.what, task_id, limiter)
    if timeout is None:
        result = await thread.run(call)
        if inspect.isawaitable(result):
            # A plain callable that hands back a coroutine (a wrapped async function).
            return await result
        return result
    with anyio.move_on_after(timeout):
        result = await thread.run(call)
        if inspect.isawaitable(result):
            return await result
        return result
    raise HandlerTimeout(timeout, waiting=not thread.started)
