"""How the runner retries failed calls to the control plane, and how it logs them.

One policy for `next`, `report` and health calls, shared by all of a runner's callers
(`RetryBudget`) and applied by one `Retrier` per calling loop:

- **Quick retries while the control plane mostly answers.** A failed call is retried
  after a short jittered pause (full jitter: the ceiling is `retry_backoff.base / 16`,
  doubling with the caller's consecutive failures up to `retry_backoff.cap`), paid
  from a token budget that successes refill (as the AWS SDKs' standard retry mode):
  a quick retry costs 2 tokens and a success returns 1, so quick retries go on while
  fewer than one call in three fails. The first two pauses of a run of failures
  (`quick_pause`: at most `base / 8`, 62 ms by default) are plain sleeps: random
  faults make most pauses, and a recovery need not cut one short.
- **Paced retries when most calls fail.** Once the budget is dry, a failed caller
  waits until the control plane answers someone: each success lets one waiting caller
  retry at once, reports first: each success wakes two, so that a backlog drains in
  a few round trips (the woken double each round trip) while retries stay bounded by
  the successes. Nobody sleeps for seconds while the control plane answers.
- **One prober when nothing answers.** One of the waiting callers retries on its own,
  after a pause of a twentieth of the time the control plane has not answered (at
  least `base / 4`, at most `cap`, jittered down to half): a control plane that is
  down sees one call now and then per runner, and recovering costs about a twentieth
  of the outage.
- **Recovery wakes everyone.** The first success after an outage (ten failed calls in
  a row, whoever made them) wakes every waiting and pausing caller at once, so pending
  reports and pollers do not sleep through the recovery.
- A `Retry-After` the source gave is honoured, bounded by the cap.

Logs stay quiet under faults (`FailureLog`): the first failure of an episode is
logged at once; further failures are counted and logged once per kind per interval;
the end of the episode (the recovery) is logged with the count.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from .._backoff import Backoff
from .._outcomes import AccessRefusedError, RejectedError, RetryLaterError
from ._log import describe_error, logger

__all__ = ["PLAIN_PAUSES", "FailureLog", "Retrier", "RetryBudget", "quick_delay"]

# Failed calls in a row, whoever made them, that make an outage: random faults at
# 30 % give ten in a row about once in 170,000 calls.
OUTAGE_AFTER = 10
# The prober's pause is at most this fraction of the time without an answer: after a
# 5 s outage the runner probes every 0.125-0.25 s, so recovering costs 1/20 of it.
PROBE_FRACTION = 0.05
# Seconds between two summaries of the same kind of failure.
SUMMARY_INTERVAL = 10.0
# Waiting callers one success wakes once the budget is dry: two, so that a backlog of
# waiting callers drains in doublings, like the pollers' growth.
WAKE_PER_ANSWER = 2
# A caller's failures in a row whose quick pauses are plain sleeps (at most base / 8).
# Under random faults nearly every pause is one of these (at 30 % faults, 91 %): they
# cost one timer, not a cancel scope and a recovery event each, and the CPU a runner
# spends per failed call is what faults take from its rate once it is CPU-bound.
PLAIN_PAUSES = 2

Priority = Literal["report", "other"]


def quick_delay(backoff: Backoff, failures: int) -> float:
    """A quick retry's pause after a caller's `failures`-th failure in a row (1: the
    first): full jitter up to `base / 16`, doubling per failure, at most `cap`."""
    # A free slot stays idle while its `next` caller pauses, and a report that waits
    # fills the backlog: so the first pauses last about a round trip (31 ms by default).
    ceiling = min(backoff.cap, backoff.base / 16 * 2.0 ** min(failures - 1, 62))
    return backoff.rng.uniform(0.0, ceiling)


def _retry_after(exc: BaseException | None, backoff: Backoff) -> float:
    retry_after = exc.retry_after if isinstance(exc, RetryLaterError) else None
    if retry_after is None or not math.isfinite(retry_after):
        return 0.0
    return max(0.0, min(retry_after, backoff.cap))


class RetryBudget:
    """What all of a runner's callers share: the token budget of quick retries, the
    callers waiting for an answer, the prober, and the failure log.

    Args:
        capacity: the tokens held when full (and at start).
        cost: the tokens a quick retry takes (a success returns one).
        summary_interval: seconds between two log summaries of one kind of failure.
    """

    def __init__(
        self, capacity: int = 100, cost: int = 2, *, summary_interval: float = SUMMARY_INTERVAL
    ) -> None:
        self.capacity = capacity
        self.cost = cost
        self._tokens = capacity
        self.log = FailureLog(summary_interval)
        self._in_a_row = 0  # failed calls in a row, whoever made them
        self._failing_since: float | None = None  # first failure after the last success
        self._prober: Retrier | None = None
        self._waiting: dict[Priority, deque[anyio.Event]] = {"report": deque(), "other": deque()}
        self._recovery: anyio.Event | None = None
        #: Outages the runner has come through (ten failures in a row, then a success).
        self.recoveries = 0

    # -- the token budget -------------------------------------------------------------

    @property
    def tokens(self) -> int:
        """Tokens left."""
        return self._tokens

    def withdraw(self) -> bool:
        """Take the cost of a quick retry; False when the budget cannot pay it."""
        if self._tokens < self.cost:
            return False
        self._tokens -= self.cost
        return True

    def deposit(self) -> None:
        """One token back, up to the capacity."""
        if self._tokens < self.capacity:
            self._tokens += 1

    # -- what happened ----------------------------------------------------------------

    @property
    def down(self) -> bool:
        """Whether the control plane looks down: the last `OUTAGE_AFTER` or more calls
        all failed."""
        return self._in_a_row >= OUTAGE_AFTER

    @property
    def waiting(self) -> int:
        """Callers waiting for the control plane to answer."""
        return sum(len(queue) for queue in self._waiting.values())

    def retrier(self, backoff: Backoff, priority: Priority = "other") -> Retrier:
        """The retry state of one calling loop (close it when the loop ends)."""
        return Retrier(self, backoff, priority)

    def succeeded(self, topic: str | None = None) -> None:
        """A call was answered (any answer but a failure): a token back, and the callers
        waiting for an answer learn of it."""
        if self._tokens < self.capacity:
            self._tokens += 1
        self._failing_since = None
        failed = self._in_a_row
        self._in_a_row = 0
        # Every answer comes through here: the clock is read only when something
        # needs it (an episode of this topic to close, or an outage).
        if topic is not None and self.log.open(topic):
            self.log.succeeded(topic, anyio.current_time())
        if failed >= OUTAGE_AFTER:
            self.recoveries += 1
            woken = self._wake_all()
            self.log.recovered(anyio.current_time(), failed, woken)
            if self._recovery is not None:
                self._recovery.set()
                self._recovery = None
        elif self._waiting["report"] or self._waiting["other"]:
            self._wake(WAKE_PER_ANSWER)

    def failed(
        self,
        topic: str,
        exc: BaseException,
        headline: str,
        *args: object,
        fields: Mapping[str, Any] | None = None,
        log: bool = True,
    ) -> None:
        """A call failed: counted, and logged as `FailureLog.failed` says (unless `log`
        is False: the caller logged it already)."""
        now = anyio.current_time()
        self._in_a_row += 1
        if self._failing_since is None:
            self._failing_since = now
        if log:
            self.log.failed(topic, exc, now, headline, args, fields or {})

    # -- waiting ----------------------------------------------------------------------

    def _without_answer(self, now: float) -> float:
        since = self._failing_since if self._failing_since is not None else now
        return max(0.0, now - since)

    def _wake(self, count: int) -> None:
        for queue in self._waiting.values():  # reports first
            while queue and count:
                event = queue.popleft()
                if not event.is_set():
                    event.set()
                    count -= 1

    def _wake_all(self) -> int:
        woken = 0
        for queue in self._waiting.values():
            while queue:
                event = queue.popleft()
                if not event.is_set():
                    event.set()
                    woken += 1
        return woken

    def _recovered(self) -> anyio.Event:
        if self._recovery is None:
            self._recovery = anyio.Event()
        return self._recovery


class Retrier:
    """The retry state of one calling loop: its failures in a row, and its waits.

    Made by `RetryBudget.retrier`; `close()` it when the loop ends, so that a prober
    that stops hands its role on.
    """

    def __init__(self, budget: RetryBudget, backoff: Backoff, priority: Priority) -> None:
        self._budget = budget
        self._backoff = backoff
        self._priority = priority
        #: This caller's failed calls in a row.
        self.failures = 0

    def succeeded(self, topic: str | None = None) -> None:
        """This caller's call was answered."""
        self.failures = 0
        if self._budget._prober is self:
            self._budget._prober = None
        self._budget.succeeded(topic)

    def quick_pause(self, exc: BaseException | None = None) -> float | None:
        """The pause before a quick retry of one of this caller's first `PLAIN_PAUSES`
        failures in a row, paid from the budget now; the caller sleeps it plainly (no
        recovery cuts it short: it is at most `base / 8`).

        Returns None, and counts nothing, when the failure needs `pause()`: a longer
        run of failures, a dry budget, the prober's role, or a `Retry-After`.
        """
        if self.failures >= PLAIN_PAUSES or self._budget._prober is self:
            return None
        if isinstance(exc, RetryLaterError) and exc.retry_after is not None:
            return None
        if not self._budget.withdraw():
            return None
        self.failures += 1
        return quick_delay(self._backoff, self.failures)

    async def pause(self, exc: BaseException | None = None) -> float:
        """Wait before retrying after a failed call (see the module docstring); returns
        the seconds waited."""
        delay = self.quick_pause(exc)
        if delay is not None:
            await anyio.sleep(delay)
            return delay
        budget = self._budget
        self.failures += 1
        started = anyio.current_time()
        retry_after = _retry_after(exc, self._backoff)
        if budget._prober is not self and budget.withdraw():
            delay = max(quick_delay(self._backoff, self.failures), retry_after)
            await self._sleep(delay, interruptible=not retry_after)
        elif budget._prober is None or budget._prober is self:
            budget._prober = self
            try:
                delay = self._probe_delay(started)
                await self._sleep(max(delay, retry_after), interruptible=not retry_after)
            except BaseException:
                self._give_up_probing()
                raise
        else:
            await self._wait_for_an_answer()
        return anyio.current_time() - started

    def close(self) -> None:
        """The loop ends: a prober hands its role to a waiting caller."""
        self._give_up_probing()

    def _give_up_probing(self) -> None:
        budget = self._budget
        if budget._prober is self:
            budget._prober = None
            # Someone must probe: the first waiting caller retries at once and, if its
            # call fails too, becomes the prober.
            budget._wake(1)

    def _probe_delay(self, now: float) -> float:
        backoff = self._backoff
        floor = backoff.base / 4
        ceiling = min(backoff.cap, max(floor, PROBE_FRACTION * self._budget._without_answer(now)))
        return backoff.rng.uniform(ceiling / 2, ceiling)

    async def _sleep(self, delay: float, *, interruptible: bool) -> None:
        if delay <= 0:
            await anyio.lowlevel.checkpoint()
            return
        if not interruptible:
            await anyio.sleep(delay)
            return
        recovered = self._budget._recovered()
        with anyio.move_on_after(delay):
            await recovered.wait()

    async def _wait_for_an_answer(self) -> None:
        event = anyio.Event()
        queue = self._budget._waiting[self._priority]
        queue.append(event)
        try:
            await event.wait()
        finally:
            if not event.is_set():
                with contextlib.suppress(ValueError):
                    queue.remove(event)


# -- quiet logs under faults -------------------------------------------------------------


@dataclass(slots=True)
class _Kind:
    level: int
    last: str  # the latest failure of this kind, in words
    count: int = 0  # since the last summary


@dataclass(slots=True)
class _Episode:
    started: float
    last_failure: float
    summarised: float  # when the last summary went out (or the episode began)
    failures: int = 1
    answered: int = 0  # calls of this topic answered since the last summary
    kinds: dict[tuple[str, int | None], _Kind] = field(default_factory=dict)


class FailureLog:
    """Failed calls summarised, never one record per call.

    Per topic (polling of one app version, reports, health of one app version):
    - the first failure of an episode is logged at once, with what failed and why;
    - further failures are counted per kind (exception type and HTTP status) and
      logged once per kind per `interval`, with the count;
    - the episode ends at the first answered call `interval` seconds after its last
      failure, or when the runner comes through an outage: then one record says so,
      with the count.

    Refused credentials and refused requests are logged at ERROR, other failures at
    WARNING, the end of an episode at INFO (after an outage, at WARNING).
    """

    def __init__(self, interval: float = SUMMARY_INTERVAL) -> None:
        self.interval = interval
        self._episodes: dict[str, _Episode] = {}

    def failed(
        self,
        topic: str,
        exc: BaseException,
        now: float,
        headline: str,
        args: tuple[object, ...],
        fields: Mapping[str, Any],
    ) -> None:
        """Count a failure of `topic`; log it if it opens an episode (as
        `headline % args`, `{failed}` in it replaced by "failed" or "was refused",
        followed by the error) or a summary is due."""
        level = _level(exc)
        kind_key = (type(exc).__name__, _status(exc))
        episode = self._episodes.get(topic)
        if episode is None:
            self._episodes[topic] = _Episode(now, now, now)
            verb = "was refused" if isinstance(exc, AccessRefusedError) else "failed"
            logger.log(
                level,
                f"{headline.replace('{failed}', verb)}: %s; retrying (further failures of "
                f"{topic} are counted and logged every {self.interval:g}s)",
                *args,
                describe_error(exc),
                extra={**fields, "failures": 1},
            )
            return
        episode.failures += 1
        episode.last_failure = now
        kind = episode.kinds.get(kind_key)
        if kind is None:
            kind = episode.kinds[kind_key] = _Kind(level, describe_error(exc))
        kind.count += 1
        kind.last = describe_error(exc)
        if now - episode.summarised >= self.interval:
            self._summarise(topic, episode, now, fields)

    def open(self, topic: str) -> bool:
        """Whether `topic` is in an episode of failures."""
        return topic in self._episodes

    def succeeded(self, topic: str, now: float) -> None:
        """A call of `topic` was answered: the episode ends if it has been quiet."""
        episode = self._episodes.get(topic)
        if episode is None:
            return
        episode.answered += 1
        if now - episode.last_failure < self.interval:
            return
        del self._episodes[topic]
        logger.info(
            "%s works again: %d call(s) failed over %.1fs; the last failure was %.1fs ago",
            topic,
            episode.failures,
            episode.last_failure - episode.started,
            now - episode.last_failure,
            extra={"topic": topic, "failures": episode.failures},
        )

    def recovered(self, now: float, in_a_row: int, woken: int) -> None:
        """The control plane answered after an outage: every episode ends."""
        episodes, self._episodes = self._episodes, {}
        total = sum(episode.failures for episode in episodes.values())
        began = min((episode.started for episode in episodes.values()), default=now)
        logger.warning(
            "the control plane answers again after %.1fs of failures (%d failed call(s), "
            "the last %d in a row); %d waiting call(s) retry now",
            now - began,
            max(total, in_a_row),
            in_a_row,
            woken,
            extra={"failures": max(total, in_a_row), "outage": round(now - began, 3)},
        )

    def _summarise(
        self, topic: str, episode: _Episode, now: float, fields: Mapping[str, Any]
    ) -> None:
        window = now - episode.summarised
        answered, episode.answered = episode.answered, 0
        episode.summarised = now
        for kind in episode.kinds.values():
            if not kind.count:
                continue
            logger.log(
                kind.level,
                "%s: %d more failure(s) in the last %.1fs (%d answered), the latest: %s; "
                "still retrying",
                topic,
                kind.count,
                window,
                answered,
                kind.last,
                extra={**fields, "failures": kind.count},
            )
            kind.count = 0


def _level(exc: BaseException) -> int:
    return logging.ERROR if isinstance(exc, AccessRefusedError | RejectedError) else logging.WARNING


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None
