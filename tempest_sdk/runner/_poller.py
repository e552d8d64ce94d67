"""Fetching tasks: `next` callers per app version that grow with the work and shrink
to one scout when there is none.

Scheduling rules:
- A caller takes a free slot *before* it calls `next`: a fetched task is leased to
  this process, so fetching without capacity to run it only delays it. The slot
  passes to the task with the hand-off to the task keeper.
- Growth: every call that brings a task starts one more caller while slots are free,
  up to `pollers` callers, so the calls in flight double each round trip under load
  (on a network, throughput depends on calls in flight, not on CPU). The first task
  after an outage starts every caller the free slots allow at once.
- Shrinking: a call that comes back empty ends its caller, except the last one, the
  scout, which polls alone after a pause. Idle polling therefore costs one request
  per pause per app version.
- Failures: a caller waits as the runner's retry policy says (`_retry.py`: a short
  pause while the control plane mostly answers; once most calls fail, until it answers
  someone; one prober while nothing answers) and tries again. Once the control plane
  looks down (ten failed calls in a row over the runner) or this version's calls fail
  five times in a row, the extra callers end and the scout alone goes on: random
  failures never thin the callers out, and a failing control plane gets one caller.
- Idle pauses grow from `poll_interval_min` to `poll_interval_max` after empty
  answers (doubling, each drawn from its top tenth upwards, so that an idle
  version costs at most 12 requests a minute by default).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence

import anyio
from anyio.abc import TaskGroup

from .._backoff import Backoff
from .._outcomes import AccessRefusedError, TaskSourceError
from ..models import MalformedTaskError
from ._config import RunnerOptions
from ._errors import RunnerStartupError
from ._hooks import Interceptor, PollEvent, PollOutcome
from ._log import describe_error
from ._protocols import RunnableApp, TaskSource
from ._reporter import call_hook
from ._retry import Retrier, RetryBudget
from ._tasks import TaskKeeper

__all__ = ["VersionPoller"]

# Consecutive failures of one version's calls after which only its scout keeps polling
# (random faults at 30 % give five in a row about once in 400 calls).
_FAILURES_BEFORE_SCOUTING = 5


class VersionPoller:
    """Fetches the tasks of one app version and hands them to the task keeper.

    Args:
        app: the app version served.
        source: where tasks come from.
        options: the runner's options (pollers, pauses, backoff).
        keeper: owns the slots and every task fetched.
        budget: the retry budget shared with the reporter.
        hooks: notified after every `next` call.
    """

    def __init__(
        self,
        app: RunnableApp,
        source: TaskSource,
        options: RunnerOptions,
        keeper: TaskKeeper,
        budget: RetryBudget,
        hooks: Sequence[Interceptor],
    ) -> None:
        self.app = app
        self._app_id = app.app_id
        self._version = app.version
        self._source = source
        self._keeper = keeper
        self._budget = budget
        self._max_callers = options.poller_limit
        self._retry = options.retry_backoff
        self._idle = Backoff(
            base=options.poll_interval_min,
            cap=options.poll_interval_max,
            rng=options.retry_backoff.rng,
        )
        self._hooks = tuple(hooks)
        self._empty_streak = 0
        self._error_streak = 0
        self._last_error: Exception | None = None
        self._topic = f"polling for app {self._app_id} {self._version}"  # of failure logs
        self._recoveries_seen = budget.recoveries if budget is not None else 0
        self._callers = 0
        self._group: TaskGroup | None = None
        self._stopping = False
        self._wait_scopes: set[anyio.CancelScope] = set()
        self.polls = 0
        self.most_callers = 0
        #: When the last `next` call that answered there is no task began; None once a
        #: call failed since (`until_idle` stops only on an empty queue).
        self.last_empty: float | None = None
        self._refused: AccessRefusedError | None = None

    @property
    def callers(self) -> int:
        """`next` callers alive now (polling, waiting for a slot, or pausing)."""
        return self._callers

    @property
    def refused(self) -> AccessRefusedError | None:
        """The refusal of the last `next` call, when the control plane refused the token
        (cleared by the next call that succeeds)."""
        return self._refused

    def _fields(self, **more: object) -> dict[str, object]:
        return {"app_id": self._app_id, "app_version": self._version, **more}

    async def probe(self) -> None:
        """The first `next` call, which fails fast on a rejected token or an
        unreachable endpoint (after the source's own retries).

        Raises:
            RunnerStartupError: the call failed; the message says how to fix it.
        """
        if not await self._wait(self._keeper.reserve):
            return
        await self._fetch(probe=True)

    async def serve(self) -> None:
        """Poll until `stop()`, starting with one caller."""
        async with anyio.create_task_group() as group:
            self._group = group
            self._spawn()

    def stop(self) -> None:
        """Stop fetching: waits and pauses end; a `next` call in flight completes."""
        self._stopping = True
        for scope in self._wait_scopes:
            scope.cancel()

    def _spawn(self) -> None:
        if self._group is None or self._stopping:
            return
        self._callers += 1
        self.most_callers = max(self.most_callers, self._callers)
        self._group.start_soon(self._caller)

    def _grow(self) -> None:
        """A call brought a task: one more caller, if a slot is free for it; after an
        outage, every caller that the free slots allow at once."""
        room = min(self._max_callers - self._callers, self._keeper.free_slots)
        if self._budget.recoveries != self._recoveries_seen:
            # The callers that ended in the outage come back at once rather than by
            # doubling round trip by round trip: recovery within a round trip or two.
            self._recoveries_seen = self._budget.recoveries
            extra = room
        else:
            extra = min(1, room)
        for _ in range(extra):
            self._spawn()

    async def _caller(self) -> None:
        retrier = self._budget.retrier(self._retry)
        try:
            while not self._stopping:
                if not self._keeper.try_reserve() and not await self._wait(self._keeper.reserve):
                    return
                if self._stopping:
                    self._keeper.unreserve()
                    return
                outcome = await self._fetch(probe=False, retrier=retrier)
                if outcome == "task":
                    self._grow()
                    continue
                last = self._callers == 1
                wait: Callable[[], Awaitable[object]]
                if outcome == "empty":
                    if not last:
                        return
                    wait = functools.partial(anyio.sleep, self._idle_pause())
                else:
                    if not last and self._scouting():
                        return
                    delay = retrier.quick_pause(self._last_error)
                    if delay is not None:
                        # Short (at most base / 8): a plain sleep, no cancel scope; a
                        # stop waits for it.
                        await anyio.sleep(delay)
                        continue
                    wait = functools.partial(retrier.pause, self._last_error)
                if not await self._wait(wait):
                    return
        finally:
            retrier.close()
            self._callers -= 1

    def _scouting(self) -> bool:
        """Whether failures come in a row: then the scout alone polls."""
        return self._error_streak >= _FAILURES_BEFORE_SCOUTING or self._budget.down

    def _idle_pause(self) -> float:
        # The top of each step and a tenth above it: jitter enough to keep replicas
        # apart, while an idle version costs at most 60 / poll_interval_max requests
        # a minute.
        ceiling = self._idle.ceiling(self._empty_streak - 1)
        return self._idle.rng.uniform(ceiling, ceiling * 1.1)

    async def _wait(self, wait: Callable[[], Awaitable[object]]) -> bool:
        """Await `wait()` unless stopped meanwhile; True if it completed."""
        with anyio.CancelScope() as scope:
            self._wait_scopes.add(scope)
            try:
                if self._stopping:
                    scope.cancel()
                await wait()
                return True
            finally:
                self._wait_scopes.discard(scope)
        return False

    async def _fetch(self, *, probe: bool, retrier: Retrier | None = None) -> PollOutcome:
        """One `next` call with a reserved slot, which always passes on or is given back."""
        started = anyio.current_time()
        self.polls += 1
        try:
            # The first call keeps the source's own retries: a blip at start is no
            # reason to fail. Later, the runner's retry policy (`_retry.py`) is the only one.
            if probe:
                task = await self._source.next_task(self._app_id, self._version)
            else:
                task = await self._source.next_task(self._app_id, self._version, max_retries=0)
        except MalformedTaskError as exc:
            self._keeper.unreadable(self.app, exc)
            await self._event("malformed", started, exc.task_id, exc)
            if exc.task_id is None:
                # Nothing to report: a failed call, so that a control plane that keeps
                # answering garbage is polled with backoff, not in a tight loop.
                self._failed(exc, log=False)
                return "error"
            self._succeeded(retrier)
            self._empty_streak = 0
            return "task"
        except BaseException as exc:
            self._keeper.unreserve()
            if not isinstance(exc, Exception):
                raise
            await self._event("error", started, None, exc)
            if probe and (not isinstance(exc, TaskSourceError) or exc.blocks_start):
                raise self._startup_error(exc) from exc
            self._failed(exc)
            return "error"
        if task is None:
            self.last_empty = started  # the queue was empty after this moment
            self._keeper.unreserve()
            self._succeeded(retrier)
            self._empty_streak += 1
            await self._event("empty", started, None, None)
            return "empty"
        outcome = self._keeper.accept(self.app, task)
        self._succeeded(retrier)
        self._empty_streak = 0
        await self._event(outcome, started, task.task_id, None)
        return "task"

    def _succeeded(self, retrier: Retrier | None) -> None:
        if retrier is not None:
            retrier.succeeded(self._topic)
        else:
            self._budget.succeeded(self._topic)
        self._error_streak = 0
        self._refused = None

    def _failed(self, exc: Exception, *, log: bool = True) -> None:
        self._empty_streak = 0
        self.last_empty = None  # a failed call: whether the queue is empty is unknown
        self._error_streak += 1
        self._last_error = exc
        if isinstance(exc, AccessRefusedError):
            self._refused = exc
        # Logged by the failure log: the first of an episode at once, then summaries
        # (an unreadable answer was logged already).
        self._budget.failed(
            self._topic,
            exc,
            "polling for app %s %s {failed}",
            self._app_id,
            self._version,
            fields=self._fields(failures=self._error_streak),
            log=log,
        )

    def _startup_error(self, exc: Exception) -> RunnerStartupError:
        where = f"app {self._app_id} {self._version}"
        endpoint = getattr(self._source, "endpoint", None)
        at = f" at {endpoint}" if isinstance(endpoint, str) else ""
        if isinstance(exc, TaskSourceError):
            advice = exc.fix  # None when its message already says what to check
        else:
            advice = "check that TEMPEST_API_ENDPOINT is the Tempest API"
        fix = f" Fix: {advice}." if advice else ""
        return RunnerStartupError(
            f"cannot start serving {where}: the first poll{at} failed: {describe_error(exc)}.{fix}"
        )

    async def _event(
        self,
        outcome: PollOutcome,
        started: float,
        task_id: str | None,
        error: BaseException | None,
    ) -> None:
        if not self._hooks:
            return
        event = PollEvent(
            app_id=self._app_id,
            version=self._version,
            outcome=outcome,
            duration=anyio.current_time() - started,
            task_id=task_id,
            error=error,
        )
        for hook in self._hooks:
            await call_hook(hook.on_poll, event)
