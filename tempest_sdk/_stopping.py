"""`ctx.stopping`: whether the runner serving a task has begun to stop.

The runner marks the context its tasks run in; `Context.stopping` reads it there,
in an async handler and in a plain one's worker thread alike (threads run in a copy
of the task's context). Outside a runner (`invoke`, `dispatch` called directly) it
never becomes set.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Protocol

__all__ = ["Stopping", "enter", "leave", "current"]


class _Flag(Protocol):
    def is_set(self) -> bool: ...
    async def wait(self) -> None: ...


class Stopping:
    """Whether the runner has begun its drain: a long handler checkpoints and returns.

    `bool(ctx.stopping)` (or `ctx.stopping.is_set()`) says whether it has; `await
    ctx.stopping.wait()` returns once it has (in an async handler). The handler then
    has the rest of the runner's grace period (`RunnerOptions.shutdown_grace`) to finish.

    Example:
        ```python
        for batch in batches:
            if ctx.stopping:
                raise tempest.TaskError("interrupted by a restart; run it again")
            await copy(batch)
        ```
    """

    __slots__ = ("_flag",)

    def __init__(self, flag: _Flag | None = None) -> None:
        self._flag = flag

    def is_set(self) -> bool:
        """Whether the runner has begun to stop (thread-safe to read)."""
        return self._flag is not None and self._flag.is_set()

    def __bool__(self) -> bool:
        return self.is_set()

    async def wait(self) -> None:
        """Return once the runner has begun to stop; outside a runner, never."""
        if self._flag is None:
            import anyio  # loaded by then: only a handler awaits this

            await anyio.sleep_forever()
        else:
            await self._flag.wait()

    def __repr__(self) -> str:
        return f"Stopping({self.is_set()})"


_NEVER = Stopping()
_CURRENT: ContextVar[Stopping] = ContextVar("tempest_sdk_stopping", default=_NEVER)


def current() -> Stopping:
    """The stopping flag of the runner serving the current context."""
    return _CURRENT.get()


def enter(flag: _Flag) -> Token[Stopping]:
    """Mark the current context (and the tasks it starts) as served by a runner."""
    return _CURRENT.set(Stopping(flag))


def leave(token: Token[Stopping]) -> None:
    """Undo `enter`."""
    _CURRENT.reset(token)
