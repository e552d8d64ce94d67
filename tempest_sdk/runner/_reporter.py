"""Delivering one report: send it, retry what may pass later, say how it ended.

The reporter knows nothing of tasks, slots or the outbox: the runner's task keeper
owns a report's life and decides what follows each outcome. Calls in flight follow
the backlog: every pending report is sent at once, up to `senders` calls. A failed
report is retried by the runner's retry policy (`_retry.py`) with priority: when the
control plane answers again, waiting reports go before waiting `next` calls, since a
report finishes work that fetching would only add to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import anyio

from .._backoff import Backoff
from .._outcomes import GoneError, RejectedError
from ..models import TaskReport
from ._hooks import Interceptor, ReportEvent, ReportOutcome
from ._log import logger
from ._protocols import TaskSource
from ._retry import RetryBudget

__all__ = ["Delivery", "Outgoing", "Reporter", "call_hook"]

_E = TypeVar("_E")


@dataclass(slots=True)
class Outgoing:
    """A report on its way, with what is known of its task for the logs."""

    report: TaskReport
    app_id: str | None = None
    version: str | None = None

    def fields(self, **more: object) -> dict[str, object]:
        """Structured log fields of this report."""
        return {
            "app_id": self.app_id,
            "app_version": self.version,
            "task_id": self.report.task_id,
            "status": str(self.report.status),
            **more,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a delivery ended: acknowledged, the task is gone, or refused for good."""

    outcome: Literal["acked", "gone", "rejected"]
    error: BaseException | None = None


_ACKED = Delivery("acked")
_TOPIC = "reports"


class Reporter:
    """Sends reports, each retried until acknowledged or refused for good.

    Args:
        source: where reports go.
        backoff: the pauses between attempts (see `_retry.py`).
        budget: the retry budget shared with the pollers.
        hooks: notified of every attempt.
        senders: the most `report` calls in flight.
    """

    def __init__(
        self,
        source: TaskSource,
        backoff: Backoff,
        budget: RetryBudget,
        hooks: Sequence[Interceptor],
        *,
        senders: int,
    ) -> None:
        self._source = source
        self._backoff = backoff
        self._budget = budget
        self._hooks = tuple(hooks)
        self._sending = anyio.CapacityLimiter(senders)
        self.delivered = 0

    @property
    def sending(self) -> int:
        """`report` calls in flight now."""
        return self._sending.borrowed_tokens

    async def deliver(self, item: Outgoing) -> Delivery:
        """Send `item` until it is acknowledged, gone or rejected; never raises for a
        failed call (cancellation passes through)."""
        retrier = self._budget.retrier(self._backoff, "report")
        try:
            sending = self._sending
            while True:
                started = anyio.current_time() if self._hooks else 0.0
                try:
                    # A free sender is taken without `async with`'s extra trip through
                    # the event loop: the call itself is the checkpoint.
                    try:
                        sending.acquire_nowait()
                    except anyio.WouldBlock:
                        await sending.acquire()
                    try:
                        await self._source.report(item.report, max_retries=0)
                    finally:
                        sending.release()
                except GoneError as exc:
                    attempts = retrier.failures
                    retrier.succeeded(_TOPIC)  # the control plane answered
                    await self._event(item, "gone", attempts, started, exc)
                    return Delivery("gone", exc)
                except RejectedError as exc:
                    attempts = retrier.failures
                    retrier.succeeded(_TOPIC)
                    await self._event(item, "rejected", attempts, started, exc)
                    return Delivery("rejected", exc)
                except Exception as exc:
                    attempt = retrier.failures + 1
                    self._budget.failed(
                        _TOPIC,
                        exc,
                        "report of task %s {failed} (attempt %d)",
                        item.report.task_id,
                        attempt,
                        fields=item.fields(failures=attempt),
                    )
                    await self._event(item, "retrying", attempt - 1, started, exc)
                    await retrier.pause(exc)
                    continue
                attempts = retrier.failures
                retrier.succeeded(_TOPIC)
                self.delivered += 1
                await self._event(item, "acked", attempts, started, None)
                return _ACKED
        finally:
            retrier.close()

    async def abandoned(self, item: Outgoing) -> None:
        """Tell the hooks that `item` was still undelivered when the runner stopped."""
        await self._event(item, "abandoned", 0, anyio.current_time(), None)

    async def _event(
        self,
        item: Outgoing,
        outcome: ReportOutcome,
        attempt: int,
        started: float,
        error: BaseException | None,
    ) -> None:
        if not self._hooks:
            return
        event = ReportEvent(
            task_id=item.report.task_id,
            status=str(item.report.status),
            outcome=outcome,
            attempt=attempt,
            duration=anyio.current_time() - started,
            error=error,
        )
        for hook in self._hooks:
            await call_hook(hook.on_report, event)


async def call_hook(method: Callable[[_E], Awaitable[None]], event: _E) -> None:
    """Call one hook method; a hook that raises is logged, never propagated."""
    try:
        await method(event)
    except Exception:
        logger.exception("runner hook %r failed; ignored", method)
