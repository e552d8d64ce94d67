"""Fetching tasks: a few `next` callers per app version, gated by free slots.

Scheduling rules:
- A slot (one unit of the runner's concurrency) is taken *before* `next` is called:
  a fetched task is leased to this process, so fetching without capacity to run it
  only delays it. The slot passes to the task and is freed once its report is queued.
- After a task, poll again at once. While an app version is *quiet* (its last answer
  was `204`, or an error), only one of its callers (the scout) polls, after a pause;
  the others sleep until the scout brings back a task. Idle polling therefore costs
  one request per pause per app version, however many callers it has.
- Pauses grow from `poll_interval_min` to `poll_interval_max` after empty answers
  (doubling, each jittered within its top quarter), and follow `retry_backoff` after
  errors (full jitter, at least a 429's `Retry-After`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence

import anyio

from .._backoff import Backoff
from ..client import (
    APIConnectionError,
    APIResponseTooLargeError,
    APIStatusError,
    APITLSError,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitError,
)
from ..models import MalformedTaskError, Task, TaskReport
from ._config import RunnerOptions
from ._dedup import ClaimKind, TaskLedger
from ._errors import RunnerStartupError
from ._hooks import PollEvent, PollOutcome, RunnerHook
from ._log import logger
from ._protocols import RunnableApp, TaskSource
from ._reporter import Outgoing, Reporter, call_hook

__all__ = ["VersionPoller"]

StartTask = Callable[[RunnableApp, Task], None]
"""Starts running a task in the background; takes over the slot held for it."""


class VersionPoller:
    """Fetches the tasks of one app version and hands them to the runner.

    Args:
        app: the app version served.
        source: where tasks come from.
        options: the runner's options (pollers per version, pauses, backoff).
        slots: the runner's capacity, shared by every app version.
        ledger: deduplicates redelivered tasks.
        reporter: where reports of unreadable or already reported tasks go.
        hooks: notified after every `next` call.
        start_task: runs a new task (and releases its slot when done).
    """

    def __init__(
        self,
        app: RunnableApp,
        source: TaskSource,
        options: RunnerOptions,
        slots: anyio.Semaphore,
        ledger: TaskLedger,
        reporter: Reporter,
        hooks: Sequence[RunnerHook],
        start_task: StartTask,
    ) -> None:
        self.app = app
        self._app_id = app.app_id
        self._version = app.version
        self._source = source
        self._callers = options.pollers_per_version
        self._retry = options.retry_backoff
        self._idle = Backoff(
            base=options.poll_interval_min,
            cap=options.poll_interval_max,
            rng=options.retry_backoff.rng,
        )
        self._slots = slots
        self._ledger = ledger
        self._reporter = reporter
        self._hooks = tuple(hooks)
        self._start_task = start_task
        self._empty_streak = 0
        self._error_streak = 0
        self._retry_after = 0.0
        self._scouting = False
        self._wake = anyio.Event()
        self._stopping = False
        self._wait_scopes: set[anyio.CancelScope] = set()
        self.polls = 0

    @property
    def _quiet(self) -> bool:
        return self._empty_streak > 0 or self._error_streak > 0

    def _fields(self, **more: object) -> dict[str, object]:
        return {"app_id": self._app_id, "app_version": self._version, **more}

    async def probe(self) -> None:
        """The first `next` call, which fails fast on a rejected token or an
        unreachable endpoint (after the source's own retries).

        Raises:
            RunnerStartupError: the call failed; the message says how to fix it.
        """
        await self._poll_once(probe=True)

    async def serve_callers(self) -> None:
        """Poll with every caller until `stop()`."""
        async with anyio.create_task_group() as group:
            for _ in range(self._callers):
                group.start_soon(self._caller)

    def stop(self) -> None:
        """Stop fetching: waits are interrupted; a `next` call in flight completes."""
        self._stopping = True
        self._wake.set()
        for scope in self._wait_scopes:
            scope.cancel()

    async def _caller(self) -> None:
        while not self._stopping:
            if not self._quiet:
                await self._poll_once()
                continue
            if self._scouting:
                await self._wait(self._wake.wait)
                continue
            self._scouting = True
            try:
                if await self._wait(self._pause):
                    await self._poll_once()
            finally:
                self._scouting = False

    async def _pause(self) -> None:
        await anyio.sleep(self._quiet_delay())

    def _quiet_delay(self) -> float:
        if self._error_streak:
            delay = self._retry.delay(self._error_streak - 1)
            return max(delay, self._retry_after)
        # The top quarter of each step: enough jitter to keep replicas apart, while an
        # idle version costs about one request per 0.9 x poll_interval_max.
        attempt = self._empty_streak - 1
        return self._idle.ceiling(attempt) * 0.75 + self._idle.delay(attempt) * 0.25

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

    async def _poll_once(self, *, probe: bool = False) -> None:
        try:
            self._slots.acquire_nowait()  # the common case under load: no scope needed
        except anyio.WouldBlock:
            if not await self._wait(self._slots.acquire):
                return
        holding = True
        try:
            if self._stopping:
                return
            holding = await self._fetch(probe)
        finally:
            if holding:
                self._slots.release()

    async def _fetch(self, probe: bool) -> bool:
        """One `next` call and what follows; True while this caller still holds the slot."""
        started = anyio.current_time()
        self.polls += 1
        try:
            # The first call keeps the source's own retries: a blip at start is no
            # reason to fail. Later, the quiet pauses are the only retry policy.
            if probe:
                task = await self._source.next_task(self._app_id, self._version)
            else:
                task = await self._source.next_task(self._app_id, self._version, max_retries=0)
        except MalformedTaskError as exc:
            await self._event("malformed", started, exc.task_id, exc)
            return await self._malformed(exc)
        except Exception as exc:
            await self._event("error", started, None, exc)
            # An oversized answer came from a reachable control plane that took the
            # token: no reason not to start; it is logged and polling goes on.
            if probe and not isinstance(exc, APIResponseTooLargeError):
                raise self._startup_error(exc) from exc
            self._failed(exc)
            return True
        if task is None:
            await self._event("empty", started, None, None)
            self._became_empty()
            return True
        self._became_busy()
        claim = self._ledger.claim(task.task_id)
        if claim.kind is ClaimKind.NEW:
            await self._event("task", started, task.task_id, None)
            self._start_task(self.app, task)
            return False
        await self._event("duplicate", started, task.task_id, None)
        await self._redelivered(task.task_id, claim.kind, claim.report)
        return True

    async def _redelivered(self, task_id: str, kind: ClaimKind, stored: TaskReport | None) -> None:
        if kind is ClaimKind.DONE and stored is not None:
            logger.info(
                "task %s was delivered again after its report was acknowledged; "
                "sending the stored report again instead of running it twice",
                task_id,
                extra=self._fields(task_id=task_id),
            )
            await self._reporter.put(Outgoing(stored, self._app_id, self._version))
            return
        logger.info(
            "task %s was delivered again while %s; not started twice",
            task_id,
            "running" if kind is ClaimKind.RUNNING else "its report is being delivered",
            extra=self._fields(task_id=task_id),
        )

    async def _malformed(self, exc: MalformedTaskError) -> bool:
        task_id = exc.task_id
        logger.error(
            "Tempest sent app %s %s a task that cannot be read: %s%s",
            self._app_id,
            self._version,
            exc,
            "; reporting it as failed" if task_id else "",
            extra=self._fields(task_id=task_id),
        )
        if task_id is None:
            # Nothing to report: treat it as a failed call, so a control plane that
            # keeps answering garbage is polled with backoff, not in a tight loop.
            self._failed(exc)
            return True
        self._became_busy()
        claim = self._ledger.claim(task_id)
        if claim.kind is ClaimKind.NEW:
            self._ledger.reporting(task_id)
            report = TaskReport.error(task_id, f"the app could not read this task: {exc}")
            await self._reporter.put(Outgoing(report, self._app_id, self._version))
        else:
            await self._redelivered(task_id, claim.kind, claim.report)
        return True

    def _became_busy(self) -> None:
        if self._quiet:
            self._empty_streak = 0
            self._error_streak = 0
            self._retry_after = 0.0
            self._wake.set()

    def _became_empty(self) -> None:
        if not self._quiet:
            self._wake = anyio.Event()
        self._error_streak = 0
        self._retry_after = 0.0
        self._empty_streak += 1

    def _failed(self, exc: Exception) -> None:
        if not self._quiet:
            self._wake = anyio.Event()
        self._empty_streak = 0
        self._error_streak += 1
        retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
        self._retry_after = (
            min(retry_after, self._retry.cap)
            if retry_after is not None and math.isfinite(retry_after)
            else 0.0
        )
        if isinstance(exc, APIResponseTooLargeError):
            logger.error(
                "polling for app %s %s got an answer over the client's max_response_size "
                "(%d in a row): %s; it was dropped unread, and polling goes on with backoff",
                self._app_id,
                self._version,
                self._error_streak,
                exc,
                extra=self._fields(failures=self._error_streak),
            )
            return
        if isinstance(exc, AuthenticationError | PermissionDeniedError):
            logger.error(
                "polling for app %s %s was refused: %s; retrying with backoff",
                self._app_id,
                self._version,
                exc,
                extra=self._fields(failures=self._error_streak),
            )
            return
        logger.warning(
            "polling for app %s %s failed (%d in a row): %s; retrying with backoff",
            self._app_id,
            self._version,
            self._error_streak,
            _describe(exc),
            extra=self._fields(failures=self._error_streak),
        )

    def _startup_error(self, exc: Exception) -> RunnerStartupError:
        where = f"app {self._app_id} {self._version}"
        endpoint = getattr(self._source, "endpoint", None)
        at = f" at {endpoint}" if isinstance(endpoint, str) else ""
        if isinstance(exc, AuthenticationError):
            advice = (
                "Tempest rejected the API token. Set a valid token in TEMPEST_TOKEN or "
                "TEMPEST_TOKEN_FILE (or pass one to the client), and check that "
                "TEMPEST_API_ENDPOINT points at the right Tempest"
            )
        elif isinstance(exc, PermissionDeniedError):
            advice = (
                "the API token may not serve this app. Use a token of the organization "
                "that owns the app, and check that the app id and version are right"
            )
        elif isinstance(exc, APITLSError | APIStatusError):
            advice = ""  # their messages already say what to check
        elif isinstance(exc, APIConnectionError):
            advice = (
                "check that Tempest is reachable from here (network, firewall, proxy "
                "variables) and that TEMPEST_API_ENDPOINT is right"
            )
        else:
            advice = "check that TEMPEST_API_ENDPOINT is the Tempest API"
        fix = f" Fix: {advice}." if advice else ""
        return RunnerStartupError(
            f"cannot start serving {where}: the first poll{at} failed: {_describe(exc)}.{fix}"
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


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
