"""Delivery of reports: a bounded queue drained by a few senders that retry until
the control plane acknowledges.

The queue is bounded so that a control plane refusing reports holds back the
handlers that produced them, and through their slots, the fetching of new tasks.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._backoff import Backoff
from ..client import (
    APIStatusError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from ..models import ReportStatus, TaskReport
from ._dedup import TaskLedger
from ._hooks import ReportEvent, ReportOutcome, RunnerHook
from ._log import logger
from ._outbox import Outbox
from ._protocols import TaskSource

__all__ = ["Outgoing", "Reporter", "call_hook"]

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


class Reporter:
    """Sends reports with `senders` concurrent workers, each retrying until acknowledged.

    Args:
        source: where reports go.
        ledger: told when a report is settled, to answer later redeliveries.
        outbox: where durable copies live (removed once settled), or None.
        backoff: delays between attempts.
        hooks: notified of every attempt.
        senders: concurrent deliveries.
        buffer: queued reports beyond which `put` waits.
    """

    def __init__(
        self,
        source: TaskSource,
        ledger: TaskLedger,
        outbox: Outbox | None,
        backoff: Backoff,
        hooks: Sequence[RunnerHook],
        *,
        senders: int,
        buffer: int,
    ) -> None:
        self._source = source
        self._ledger = ledger
        self._outbox = outbox
        self._backoff = backoff
        self._hooks = tuple(hooks)
        self._senders = senders
        send, receive = anyio.create_memory_object_stream[Outgoing](max_buffer_size=buffer)
        self._send: MemoryObjectSendStream[Outgoing] = send
        self._receive: MemoryObjectReceiveStream[Outgoing] = receive
        self._delivering: dict[int, Outgoing] = {}
        self.delivered = 0

    async def put(self, item: Outgoing) -> None:
        """Queue a report; waits while the queue is full."""
        await self._send.send(item)

    def close(self) -> None:
        """No more reports will be queued: senders stop once the queue is empty."""
        self._send.close()

    @property
    def pending(self) -> int:
        """Reports queued or being delivered."""
        return self._receive.statistics().current_buffer_used + len(self._delivering)

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the senders until `close()` was called and the queue is drained.

        When cancelled (a flush that ran out of time), every report still queued or in
        delivery is logged as abandoned: with an outbox it is sent on the next start.
        """
        try:
            async with anyio.create_task_group() as group:
                for _ in range(self._senders):
                    group.start_soon(self._sender)
                task_status.started()
        finally:
            with anyio.CancelScope(shield=True):
                await self._abandon_rest()
            self.dispose()

    def dispose(self) -> None:
        """Close the queue for good (idempotent)."""
        self._send.close()
        self._receive.close()

    async def _sender(self) -> None:
        async for item in self._receive:
            # Left in `_delivering` if cancelled, so that it is logged as abandoned.
            self._delivering[id(item)] = item
            await self._deliver(item)
            del self._delivering[id(item)]

    async def _deliver(self, item: Outgoing) -> None:
        attempt = 0
        while True:
            started = anyio.current_time()
            report = item.report
            try:
                await self._source.report(report, max_retries=0)
            except NotFoundError as exc:
                logger.warning(
                    "task %s is unknown to Tempest (404), its lease probably expired; "
                    "report dropped",
                    report.task_id,
                    extra=item.fields(),
                )
                await self._event(item, "gone", attempt, started, exc)
                await self._settle(item)
                return
            except APIStatusError as exc:
                if not _permanent(exc):
                    await self._retry(item, attempt, started, exc)
                    attempt += 1
                    continue
                # The same report would be refused again: never retried. An ok report
                # is replaced once by an error report saying why, which is small and
                # plain enough to be accepted; a refused error report is dropped.
                await self._event(item, "rejected", attempt, started, exc)
                reason = exc.error or f"HTTP {exc.status_code}"
                if report.status is ReportStatus.OK:
                    logger.error(
                        "Tempest refused the report of task %s (%s); sending an error "
                        "report instead",
                        report.task_id,
                        exc,
                        extra=item.fields(),
                    )
                    what = "as invalid" if exc.status_code == 400 else f"({exc.status_code})"
                    item.report = TaskReport.error(
                        report.task_id, f"Tempest rejected the app's result {what}: {reason}"
                    )
                    attempt = 0
                    continue
                logger.error(
                    "Tempest refused the error report of task %s (%s); report dropped",
                    report.task_id,
                    exc,
                    extra=item.fields(),
                )
                await self._settle(item)
                return
            except Exception as exc:
                await self._retry(item, attempt, started, exc)
                attempt += 1
                continue
            await self._event(item, "acked", attempt, started, None)
            self.delivered += 1
            await self._settle(item)
            return

    async def _retry(
        self, item: Outgoing, attempt: int, started: float, exc: BaseException
    ) -> None:
        """Log a failed attempt and wait out the backoff before the next one."""
        delay = self._delay(attempt, exc)
        await self._event(item, "retrying", attempt, started, exc)
        if isinstance(exc, AuthenticationError | PermissionDeniedError):
            logger.error(
                "cannot report task %s: %s; retrying in %.1fs",
                item.report.task_id,
                exc,
                delay,
                extra=item.fields(failures=attempt + 1),
            )
        else:
            logger.warning(
                "report of task %s failed (attempt %d): %s; retrying in %.1fs",
                item.report.task_id,
                attempt + 1,
                _describe(exc),
                delay,
                extra=item.fields(failures=attempt + 1),
            )
        await anyio.sleep(delay)

    def _delay(self, attempt: int, exc: BaseException) -> float:
        delay = self._backoff.delay(attempt)
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            # The server said how long; honour it, bounded by the backoff's cap.
            retry_after = exc.retry_after
            if math.isfinite(retry_after):
                delay = max(delay, min(retry_after, self._backoff.cap))
        return delay

    async def _settle(self, item: Outgoing) -> None:
        self._ledger.settled(item.report)
        if self._outbox is not None:
            try:
                await anyio.to_thread.run_sync(self._outbox.remove, item.report.task_id)
            except OSError as exc:
                logger.error(
                    "could not remove the outbox copy of task %s: %s",
                    item.report.task_id,
                    exc,
                    extra=item.fields(),
                )

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

    async def _abandon_rest(self) -> None:
        rest = list(self._delivering.values())
        self._delivering.clear()
        while True:
            try:
                rest.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
        if not rest:
            return
        kept = "kept in the outbox for the next start" if self._outbox else "lost"
        logger.error(
            "%d report(s) could not be delivered before the runner stopped (%s): %s",
            len(rest),
            kept,
            ", ".join(item.report.task_id for item in rest),
        )
        for item in rest:
            self._ledger.release(item.report.task_id)
            await self._event(item, "abandoned", 0, anyio.current_time(), None)


async def call_hook(method: Callable[[_E], Awaitable[None]], event: _E) -> None:
    """Call one hook method; a hook that raises is logged, never propagated."""
    try:
        await method(event)
    except Exception:
        logger.exception("runner hook %r failed; ignored", method)


def _permanent(exc: APIStatusError) -> bool:
    """A 4xx that the same report would get again. 404 (handled apart), 408 and 429
    pass with time; 401 and 403 are about the token, which may be rotated, not about
    the report, so those are retried (and logged as errors) too."""
    return 400 <= exc.status_code < 500 and exc.status_code not in (401, 403, 404, 408, 429)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
