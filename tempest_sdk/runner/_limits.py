"""Per resource type and per action limits, applied by the runner before a task starts.

The control plane decides which task comes next, so a task over its type's or its
action's limits waits here, in the process, holding the global slot it was fetched
with. Its handler's timeout counts from its start, after the wait.

For one task, the limits are taken from the narrowest to the widest (the action's,
then its type's): at each, its concurrency slot, then its turn for a start token
(holding the gate's lock keeps waiters in order, and keeps the token the holder
waited for from being taken by another). The start tokens of every gate are then
taken at once, so a start honours each rate at the moment it happens. A task
waiting for its action's start token therefore holds no slot of its type.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import anyio

from ._hooks import TaskInfo
from ._log import describe, logger

if TYPE_CHECKING:
    from .._limits import Limits, Rate
    from ._protocols import RunnableApp

__all__ = ["Admission", "TaskLimiter", "TokenBucket"]

# Rounding left by refilling in steps of elapsed time must not cost another sleep.
_EPSILON = 1e-9

TypeKey = tuple[str, str, str]
"""(app id, version, resource type)."""


class TokenBucket:
    """The start tokens of one `Rate`: at most `burst`, refilled at `count / per` a second.

    Pure arithmetic on the times it is given, so that it can be tested with any clock.

    Args:
        rate: the rate it enforces.
        now: the current time; the bucket starts full.
    """

    __slots__ = ("_capacity", "_refill", "_tokens", "_updated")

    def __init__(self, rate: Rate, now: float) -> None:
        self._capacity = float(rate.burst)
        self._refill = rate.count / rate.per
        self._tokens = self._capacity
        self._updated = now

    def _refresh(self, now: float) -> None:
        if now > self._updated:
            gained = (now - self._updated) * self._refill
            self._tokens = min(self._capacity, self._tokens + gained)
            self._updated = now

    def delay(self, now: float) -> float:
        """Seconds until a token is there (0.0: one is there now)."""
        self._refresh(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= _EPSILON else missing / self._refill

    def take(self, now: float) -> None:
        """Take a token that `delay(now)` said is there."""
        self._refresh(now)
        self._tokens -= 1.0


class _Gate:
    """The limits of one resource type or action, and their state in this process."""

    __slots__ = ("bucket", "capacity", "limits", "lock", "what")

    def __init__(self, limits: Limits, what: str, now: float) -> None:
        self.limits = limits
        self.what = what
        self.capacity = (
            anyio.CapacityLimiter(limits.max_concurrency)
            if limits.max_concurrency is not None
            else None
        )
        self.bucket = TokenBucket(limits.rate, now) if limits.rate is not None else None
        self.lock = anyio.Lock() if limits.rate is not None else None


class Admission:
    """A task let through its limits: the seconds it waited, and the slots it holds.

    `release()` gives the slots back once the handler is done.
    """

    __slots__ = ("_held", "gates", "waited")

    def __init__(self, gates: tuple[_Gate, ...]) -> None:
        self.gates = gates
        self.waited = 0.0
        self._held: list[_Gate] = []

    def hold(self, gate: _Gate) -> None:
        """Record that this admission borrows one of `gate`'s concurrency slots."""
        self._held.append(gate)

    def release(self) -> None:
        """Give back every concurrency slot held (once)."""
        held, self._held = self._held, []
        for gate in reversed(held):
            assert gate.capacity is not None
            gate.capacity.release_on_behalf_of(self)


_FREE = Admission(())
"""The admission of every task without limits: it holds nothing."""


class TaskLimiter:
    """Holds tasks back until their resource type's and action's limits let them start.

    Limits come from each app's `limits_for(resource_type, action)`.

    Args:
        clock: the current time in seconds (tests pass a fake one).
        sleep: waits a number of seconds (tests pass one that moves their clock).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._routes: dict[tuple[str, str, str, str | None], tuple[_Gate, ...]] = {}
        self._types: dict[TypeKey, _Gate | None] = {}
        self._waiting: dict[TypeKey, int] = {}
        self._scopes: set[anyio.CancelScope] = set()
        self._stopped = False

    def waiting(self) -> Mapping[TypeKey, int]:
        """Tasks waiting for their limits now, by (app id, version, resource type).

        A task waiting for its action's limits counts under its resource type. Types
        without waiting tasks are left out. A snapshot, safe to read from metrics.
        """
        return MappingProxyType(dict(self._waiting))

    def stop(self) -> None:
        """The runner is stopping: every waiting task, and any that would wait from now
        on, is not started (`admit` returns None)."""
        self._stopped = True
        for scope in self._scopes:
            scope.cancel()

    async def admit(self, app: RunnableApp, info: TaskInfo) -> Admission | None:
        """Wait until `info`'s task may start; None when the runner stopped meanwhile.

        The caller runs the task and then calls `release()` on the admission.
        """
        gates = self._gates(app, info)
        if not gates:
            return _FREE
        admission = Admission(gates)
        if self._try(admission):
            return admission
        if self._stopped:
            return None
        return await self._wait(admission, info)

    def _try(self, admission: Admission) -> bool:
        """Admit at once when nothing has to wait, without yielding to the event loop."""
        now = 0.0
        if any(gate.bucket is not None for gate in admission.gates):
            now = self._clock()
            for gate in admission.gates:
                if gate.bucket is None:
                    continue
                assert gate.lock is not None
                if gate.lock.locked() or gate.bucket.delay(now) > 0.0:
                    return False
        for gate in admission.gates:
            if gate.capacity is None:
                continue
            try:
                gate.capacity.acquire_on_behalf_of_nowait(admission)
            except anyio.WouldBlock:
                admission.release()
                return False
            admission.hold(gate)
        for gate in admission.gates:
            if gate.bucket is not None:
                gate.bucket.take(now)
        return True

    async def _wait(self, admission: Admission, info: TaskInfo) -> Admission | None:
        key = (info.app_id, info.version, info.resource_type)
        self._waiting[key] = self._waiting.get(key, 0) + 1
        what = " and ".join(f"{gate.what} ({gate.limits})" for gate in admission.gates)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "task %s (%s) waits for the limits of %s",
                info.task_id,
                describe(info),
                what,
                extra=info.fields(),
            )
        started = self._clock()
        locked: list[_Gate] = []
        admitted = False
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                for gate in admission.gates:
                    if gate.capacity is not None:
                        await gate.capacity.acquire_on_behalf_of(admission)
                        admission.hold(gate)
                    if gate.lock is not None and gate.bucket is not None:
                        await gate.lock.acquire()
                        locked.append(gate)
                        while (delay := gate.bucket.delay(self._clock())) > 0.0:
                            await self._sleep(delay)
                now = self._clock()
                for gate in locked:
                    assert gate.bucket is not None
                    gate.bucket.take(now)
                admitted = True
        finally:
            for gate in reversed(locked):
                assert gate.lock is not None
                gate.lock.release()
            self._scopes.discard(scope)
            left = self._waiting[key] - 1
            if left:
                self._waiting[key] = left
            else:
                del self._waiting[key]
            if not admitted:
                admission.release()
        if not admitted:
            return None
        admission.waited = self._clock() - started
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "task %s (%s) waited %.3fs for the limits of %s",
                info.task_id,
                describe(info),
                admission.waited,
                what,
                extra=info.fields(waited=admission.waited),
            )
        return admission

    def _gates(self, app: RunnableApp, info: TaskInfo) -> tuple[_Gate, ...]:
        action = info.subject.action
        route = (info.app_id, info.version, info.resource_type, action)
        gates = self._routes.get(route)
        if gates is None:
            gates = self._build(app, info, action)
            self._routes[route] = gates
        return gates

    def _build(self, app: RunnableApp, info: TaskInfo, action: str | None) -> tuple[_Gate, ...]:
        gates: list[_Gate] = []
        now = self._clock()
        if action is not None:
            limits = app.limits_for(info.resource_type, action)
            if limits:
                gates.append(_Gate(limits, f"action {action!r} of {info.resource_type!r}", now))
        key = (info.app_id, info.version, info.resource_type)
        if key not in self._types:
            limits = app.limits_for(info.resource_type)
            self._types[key] = (
                _Gate(limits, f"resource type {info.resource_type!r}", now) if limits else None
            )
        type_gate = self._types[key]
        if type_gate is not None:
            gates.append(type_gate)
        return tuple(gates)
