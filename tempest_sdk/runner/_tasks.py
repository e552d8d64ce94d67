"""The one owner of every task's life: slot, claim, dispatch, outbox, report, settlement.

Pollers only fetch: they reserve a slot, call `next`, and hand what came back to
`TaskKeeper.accept` (or `unreadable`), which claims the task and starts the task's
owner coroutine before anything can be cancelled in between. That coroutine runs
the handler, keeps the report in the outbox, frees the slot once the report has a
place in the bounded backlog, has the reporter deliver it, and settles it. The
reporter only delivers.

Backpressure: the backlog of reports holds at most `concurrency` of them; a task
whose report finds no room keeps its slot, so a control plane that refuses reports
holds back fetching instead of piling reports up in memory.
"""

from __future__ import annotations

import dataclasses
import logging

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .._logfields import task_fields as task_fields_of
from .._outcomes import RejectedError
from .._secrets import TaskSecrets, enter_task, leave_task, mask, scrub
from ..models import MalformedTaskError, ReportStatus, Task, TaskReport
from ._config import RunnerOptions
from ._dedup import Claim, ClaimKind, TaskLedger
from ._hooks import InterceptedTask, Interceptor, PollOutcome, TaskInfo, run_chain
from ._limits import TaskLimiter
from ._log import describe, logger
from ._outbox import Outbox
from ._protocols import RunnableApp
from ._reporter import Delivery, Outgoing, Reporter

__all__ = ["TaskKeeper"]


class TaskKeeper:
    """Owns every task from its claim to its settlement.

    Args:
        options: the runner's options (concurrency, task timeout).
        ledger: deduplicates redelivered tasks.
        outbox: where reports are kept until acknowledged, or None.
        reporter: delivers reports.
        interceptors: the interceptors that wrap each task, the first outermost.
    """

    def __init__(
        self,
        options: RunnerOptions,
        ledger: TaskLedger,
        outbox: Outbox | None,
        reporter: Reporter,
        interceptors: tuple[Interceptor, ...],
    ) -> None:
        self._concurrency = options.concurrency
        self._timeout = options.task_timeout
        self._grace = options.shutdown_grace
        self._ledger = ledger
        self._outbox = outbox
        self._reporter = reporter
        self._interceptors = interceptors
        self._slots = anyio.Semaphore(options.concurrency)
        self._backlog = anyio.Semaphore(options.concurrency)
        self.thread_limiter = anyio.CapacityLimiter(options.concurrency)
        #: Holds tasks back until their resource type's and action's limits let them start.
        self.limiter = TaskLimiter()
        self._running: dict[str, anyio.CancelScope] = {}
        self._idle: anyio.Event | None = None
        self._group: TaskGroup | None = None
        self._closed = anyio.Event()
        self._stopping = False
        self._abandoned: list[Outgoing] = []
        #: Reports not delivered when the runner stopped (kept in the outbox or lost).
        self.undelivered = 0
        self.completed = 0
        self.reporting = 0
        #: Reports settled (acknowledged, or dropped as gone or refused), by status.
        self.settled_ok = 0
        self.settled_errors = 0
        # Tasks between their claim and the end of their owner (limits waits included),
        # and when the last task or report came or went: what `until_idle` watches.
        self._owners = 0
        self.last_active = 0.0

    # -- capacity, for the pollers --------------------------------------------------

    @property
    def free_slots(self) -> int:
        """Slots nobody holds now."""
        return self._slots.value

    @property
    def in_flight(self) -> int:
        """Tasks whose handler runs now."""
        return len(self._running)

    @property
    def busy(self) -> bool:
        """Whether a task is owned (waiting, running, reporting) or a report pending."""
        return self._owners > 0 or self.reporting > 0

    async def reserve(self) -> None:
        """Take a slot for a task about to be fetched; waits while none is free."""
        await self._slots.acquire()

    def try_reserve(self) -> bool:
        """Take a slot if one is free now."""
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            return False
        return True

    def unreserve(self) -> None:
        """Give back a slot taken by `reserve` that no task took over."""
        self._slots.release()

    # -- hand-offs: synchronous, so nothing is cancelled between a claim and its owner

    def accept(self, app: RunnableApp, task: Task) -> PollOutcome:
        """Take over a fetched task and the slot reserved for it."""
        assert self._group is not None
        self.last_active = anyio.current_time()
        claim = self._ledger.claim(task.task_id)
        if claim.kind is ClaimKind.NEW:
            self._owners += 1
            self._group.start_soon(self._own, app, task, self._stopping)
            return "task"
        self._slots.release()
        self._redelivered(app, task.task_id, claim)
        return "duplicate"

    def unreadable(self, app: RunnableApp, exc: MalformedTaskError) -> None:
        """Take over an answer that is not a readable task, and the slot reserved for it.

        With its task id known, the task is reported as failed (once).
        """
        self._slots.release()
        self.last_active = anyio.current_time()
        task_id = exc.task_id
        # Its message may quote a value the task sent (a request_type, an operation):
        # masked with the task's own secret variables and every secret known.
        said = mask(scrub(str(exc), exc.sensitive))
        shown_id = mask(scrub(task_id, exc.sensitive)) if task_id else None
        logger.error(
            "Tempest sent app %s %s a task that cannot be read: %s%s",
            app.app_id,
            app.version,
            said,
            "; reporting it as failed" if task_id else "",
            extra=task_fields_of(app.app_id, app.version, shown_id, None),
        )
        if task_id is None:
            return
        claim = self._ledger.claim(task_id)
        if claim.kind is not ClaimKind.NEW:
            self._redelivered(app, task_id, claim)
            return
        report = TaskReport.error(task_id, f"the app could not read this task: {said}")
        self._send(Outgoing(report, app.app_id, app.version))

    def resend(self, report: TaskReport) -> None:
        """Deliver a report left in the outbox by an earlier run."""
        self._ledger.reporting(report.task_id)
        self._send(Outgoing(report))

    def _redelivered(self, app: RunnableApp, task_id: str, claim: Claim) -> None:
        fields = task_fields_of(app.app_id, app.version, task_id, None)
        if claim.kind is ClaimKind.DONE and claim.report is not None:
            logger.info(
                "task %s was delivered again after its report was acknowledged; "
                "sending the stored report again instead of running it twice",
                task_id,
                extra=fields,
            )
            self._send(Outgoing(claim.report, app.app_id, app.version))
            return
        logger.info(
            "task %s was delivered again while %s; not started twice",
            task_id,
            "running" if claim.kind is ClaimKind.RUNNING else "its report is being delivered",
            extra=fields,
        )

    def _send(self, item: Outgoing) -> None:
        assert self._group is not None
        self._ledger.reporting(item.report.task_id)
        self.reporting += 1
        self._group.start_soon(self._report_only, item)

    # -- life cycle -------------------------------------------------------------------

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Host the owners of tasks until `close()` and every owner is done.

        Cancelled (the flush ran out of time, or an abort), the reports not delivered
        yet are remembered as abandoned; `abandoned()` logs them.
        """
        self.last_active = anyio.current_time()
        async with anyio.create_task_group() as group:
            self._group = group
            task_status.started()
            await self._closed.wait()

    def begin_stop(self) -> None:
        """Tasks fetched from now on run only within the grace period, or stay unreported;
        tasks waiting for their limits are not started."""
        self._stopping = True
        self.limiter.stop()

    def close(self) -> None:
        """No more tasks come: `serve()` returns once every owner is done."""
        self._closed.set()

    async def drain(self, deadline: float, grace: float) -> None:
        """Wait until no handler runs, or the deadline; then cancel those left."""
        self._grace = grace
        if self._running:
            self._idle = anyio.Event()
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                await self._idle.wait()
        if self._running:
            logger.warning(
                "%d task(s) still running after the %.1fs grace period: cancelling them",
                len(self._running),
                grace,
            )
            for scope in self._running.values():
                scope.cancel()

    async def abandoned(self) -> None:
        """Log the reports that were not delivered before the runner stopped."""
        rest, self._abandoned = self._abandoned, []
        self.undelivered += len(rest)
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
            await self._reporter.abandoned(item)

    # -- the owner of one task ------------------------------------------------------

    async def _own(self, app: RunnableApp, task: Task, late: bool) -> None:
        task_id = task.task_id
        holding = True  # the slot
        # The task's secrets are masked everywhere (logs of any thread, spans, labels)
        # from its claim until its report is settled, not only while dispatch runs.
        secrets = TaskSecrets(task.task)
        held = enter_task(secrets)
        try:
            info = TaskInfo.of(app.app_id, app.version, task)
            # Waiting for a limit holds the slot: it counts against `concurrency`.
            admission = await self.limiter.admit(app, info)
            if admission is None:
                # Never started, so safe to run anywhere: Tempest hands it out again
                # once its lease expires; an error report would fail it for nothing.
                logger.warning(
                    "task %s (%s) was held back by its limits and the runner is stopping: "
                    "not started, left unreported to be handed out again",
                    task_id,
                    describe(info),
                    extra=info.fields(),
                )
                return
            if admission.waited:
                info = dataclasses.replace(info, waited=admission.waited)
            try:
                report = await self._execute(app, task, info, secrets, late)
            finally:
                admission.release()
            if report is None:
                return
            item = Outgoing(report, app.app_id, app.version)
            try:
                if self._outbox is not None:
                    await self._keep(report, info)
                # The slot is freed once the report has a place in the backlog.
                await self._backlog.acquire()
            except anyio.get_cancelled_exc_class():
                self._abandon(item)
                raise
            self._slots.release()
            holding = False
            try:
                await self._deliver(item)
            finally:
                self._backlog.release()
        finally:
            self._owners -= 1
            self.last_active = anyio.current_time()
            leave_task(held)
            if holding:
                self._slots.release()
                if self._ledger.state(task_id) is ClaimKind.RUNNING:
                    self._ledger.release(task_id)

    async def _execute(
        self, app: RunnableApp, task: Task, info: TaskInfo, secrets: TaskSecrets, late: bool
    ) -> TaskReport | None:
        """Run the handler; the report, or None when the task is left for redelivery."""
        task_id = task.task_id
        scope = anyio.CancelScope()
        self._running[task_id] = scope
        started = anyio.current_time()
        report: TaskReport | None = None
        try:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("task %s started: %s", task_id, describe(info), extra=info.fields())
            with scope:
                if self._interceptors:
                    report = await run_chain(
                        self._interceptors,
                        InterceptedTask.of(info, task, secrets),
                        lambda: self._dispatch(app, task),
                    )
                else:
                    report = await self._dispatch(app, task)
        finally:
            del self._running[task_id]
            if not self._running and self._idle is not None:
                self._idle.set()
        duration = anyio.current_time() - started
        if report is None:
            if late:
                # It was fetched while stopping and had no fair chance: Tempest hands
                # it out again once its lease expires, to this replica or another.
                logger.warning(
                    "task %s was fetched while stopping and did not finish within the "
                    "grace period; left unreported, to be handed out again",
                    task_id,
                    extra=info.fields(),
                )
                return None
            report = TaskReport.error(
                task_id,
                f"cancelled after {duration:.1f}s: the app was shutting down and the "
                f"task did not finish within the {self._grace:g}s grace period",
            )
        self._ledger.reporting(task_id)
        self.reporting += 1
        self.completed += 1
        _log_outcome(info, report, duration)
        return report

    async def _dispatch(self, app: RunnableApp, task: Task) -> TaskReport:
        """`app.dispatch`, with a bug of its own mapped to an error report: the one place
        where internal errors become reports."""
        try:
            return await app.dispatch(
                task, timeout=self._timeout, thread_limiter=self.thread_limiter
            )
        except Exception as exc:
            logger.error(
                "internal error while running task %s (%s)",
                task.task_id,
                type(exc).__name__,
                exc_info=True,
                extra=task_fields_of(app.app_id, app.version, task.task_id, task.subject),
            )
            return TaskReport.internal_error(task.task_id, exc)

    async def _keep(self, report: TaskReport, info: TaskInfo) -> None:
        assert self._outbox is not None
        try:
            await anyio.to_thread.run_sync(self._outbox.put, report)
        except OSError as exc:
            logger.error(
                "could not write the report of task %s to the outbox: %s; it will be "
                "delivered from memory only",
                report.task_id,
                exc,
                extra=info.fields(),
            )

    # -- the life of one report -------------------------------------------------------

    async def _report_only(self, item: Outgoing) -> None:
        try:
            await self._backlog.acquire()
        except anyio.get_cancelled_exc_class():
            self._abandon(item)
            raise
        try:
            await self._deliver(item)
        finally:
            self._backlog.release()

    async def _deliver(self, item: Outgoing) -> None:
        """Deliver `item` and settle it; remembered as abandoned if cancelled first."""
        try:
            delivery = await self._reporter.deliver(item)
            if delivery.outcome == "rejected" and item.report.status is ReportStatus.OK:
                item.report = _replacement(item, delivery)
                delivery = await self._reporter.deliver(item)
        except anyio.get_cancelled_exc_class():
            self._abandon(item)
            raise
        _log_delivery(item, delivery)
        self.reporting -= 1
        if item.report.status is ReportStatus.OK:
            self.settled_ok += 1
        else:
            self.settled_errors += 1
        self.last_active = anyio.current_time()
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

    def _abandon(self, item: Outgoing) -> None:
        """`item` will not be delivered by this run: logged by `abandoned()`."""
        self._abandoned.append(item)
        self._ledger.release(item.report.task_id)
        self.reporting -= 1


def _replacement(item: Outgoing, delivery: Delivery) -> TaskReport:
    """The error report sent once in place of a result refused for good: small and plain
    enough to be accepted, and saying why."""
    exc = delivery.error
    if isinstance(exc, RejectedError):
        status, reason = exc.http_status, exc.reason
    else:
        status, reason = None, str(exc)
    logger.error(
        "Tempest refused the report of task %s (%s); sending an error report instead",
        item.report.task_id,
        exc,
        extra=item.fields(),
    )
    what = "as invalid" if status == 400 else f"({status})" if status else "for good"
    return TaskReport.error(
        item.report.task_id, f"Tempest rejected the app's result {what}: {reason}"
    )


def _log_delivery(item: Outgoing, delivery: Delivery) -> None:
    if delivery.outcome == "gone":
        logger.warning(
            "task %s is unknown to Tempest (404), its lease probably expired; report dropped",
            item.report.task_id,
            extra=item.fields(),
        )
    elif delivery.outcome == "rejected":
        logger.error(
            "Tempest refused the error report of task %s (%s); report dropped",
            item.report.task_id,
            delivery.error,
            extra=item.fields(),
        )


def _log_outcome(info: TaskInfo, report: TaskReport, duration: float) -> None:
    if report.status is ReportStatus.OK:
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "task %s (%s): ok in %.3fs",
                info.task_id,
                describe(info),
                duration,
                extra=info.fields(status="ok", duration=duration),
            )
    elif logger.isEnabledFor(logging.WARNING):
        logger.warning(
            "task %s (%s): error in %.3fs: %s",
            info.task_id,
            describe(info),
            duration,
            report.message,
            extra=info.fields(status="error", duration=duration),
        )
