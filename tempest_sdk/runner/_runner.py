"""The runner: serves one or more app versions against the control plane.

Lifecycle (like Temporal's `Worker`): `await runner.run()` until `shutdown()`;
`async with runner:` to run it beside other work; `start_in_thread()` from
synchronous code; `tempest_sdk.runner.run(app)` standalone.

Inside `run()`, from the outside in:
- the task keeper (`_tasks.py`) owns every task from its claim to its settlement,
  delivering reports through the reporter (`_reporter.py`);
- health loops (`_health.py`) and the loop watchdog (`_watchdog.py`) run beside it;
- the operations endpoint (`_operations.py`, when `operations_address` is set)
  answers probes and scrapes from its own thread, from start to stop;
- pollers (`_poller.py`) only fetch: `next` callers per app version, each taking a
  free slot before it asks for a task, growing and shrinking with the work.
Stopping peels these layers in the opposite order.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Literal, TypeVar, Unpack, cast

import anyio
from anyio.abc import TaskStatus

from .._logfields import app_fields
from .._stopping import enter as enter_stopping
from .._stopping import leave as leave_stopping
from ..models import TaskReport
from ._config import RunnerOptions, RunnerOptionsKwargs, options_from_env, pool_keywords
from ._dedup import TaskLedger
from ._errors import RunnerStartupError
from ._gc import young_threshold
from ._health import health_loop
from ._hooks import Interceptor, RunnerSample, overriding, task_interceptors
from ._log import describe_error, logger, summary_logger
from ._observe import Probe
from ._outbox import Outbox
from ._poller import VersionPoller
from ._protocols import RunnableApp, TaskSource
from ._reporter import Reporter
from ._retry import RetryBudget
from ._tasks import TaskKeeper
from ._watchdog import DEFAULT_THRESHOLD, LoopWatchdog

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ..models import AppHealthReportRequest
    from ._operations import OperationsServer
    from ._record import Recorder
    from ._thread import RunnerThread

__all__ = ["Runner"]

_E = TypeVar("_E", bound=BaseException)
_State = Literal["new", "starting", "running", "stopping", "stopped"]


class _Events:
    """The runner's events, created on first use inside the event loop that runs it."""

    def __init__(self) -> None:
        self.settled = anyio.Event()  # ready, or failed/stopped before being ready
        self.stop = anyio.Event()
        self.stopped = anyio.Event()


class Runner:
    """Serves app versions: fetches their tasks, runs them, reports the outcomes.

    Args:
        apps: one app, or several (distinct app id and version pairs).
        client: the control plane; `None` builds an `AsyncTempestClient` from the
            environment (`TEMPEST_TOKEN`, `TEMPEST_API_ENDPOINT`, ...) when `run()`
            starts, and closes it at the end. A client passed in is not closed. A
            zero-argument callable returning a client is called when `run()` starts,
            in the runner's own event loop, and the client it returns is closed at the
            end: use it with `start_in_thread()`, whose loop lives in another thread.
        options: all options at once; when not given, the `TEMPEST_RUNNER_*` variables
            and the defaults, as `run()` reads them (`options_from_env()`). Keyword
            arguments override single ones (see `RunnerOptions` for each option and
            its default).

    Raises:
        RunnerConfigError: an option or a `TEMPEST_RUNNER_*` variable has an invalid
            value.
        ValueError: no app, or an app version given twice.
    """

    def __init__(
        self,
        apps: RunnableApp | Iterable[RunnableApp],
        client: TaskSource | Callable[[], TaskSource] | None = None,
        *,
        options: RunnerOptions | None = None,
        **overrides: Unpack[RunnerOptionsKwargs],
    ) -> None:
        self.apps: tuple[RunnableApp, ...] = _as_apps(apps)
        # Options not given come from TEMPEST_RUNNER_* variables, as for `run()`.
        base = options if options is not None else options_from_env()
        self.options: RunnerOptions = base.replace(**overrides) if overrides else base
        self._client = client
        self._state: _State = "new"
        self._events_: _Events | None = None
        self._failure: BaseException | None = None
        self._grace = self.options.shutdown_grace
        self._root_scope: anyio.CancelScope | None = None
        self._keeper: TaskKeeper | None = None
        self._reporter: Reporter | None = None
        self._pollers: list[VersionPoller] = []
        self._cancelled = False  # abort(), or a shutdown while starting
        self._was_ready = False
        self._host: contextlib.AsyncExitStack | None = None
        warning = self.options.blocked_loop_warning
        self._watchdog = LoopWatchdog(warning or DEFAULT_THRESHOLD, warn=warning is not None)
        self._budget: RetryBudget | None = None
        self._outbox: Outbox | None = None
        self._health: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
        self._operations: OperationsServer | None = None
        self._recorder: Recorder | None = None

    def __repr__(self) -> str:
        served = ", ".join(f"{app.app_id} {app.version}" for app in self.apps)
        return f"<Runner [{served}] {self._state} concurrency={self.options.concurrency}>"

    # -- public lifecycle -------------------------------------------------------------

    @property
    def state(self) -> str:
        """`"new"`, `"starting"`, `"running"` (ready), `"stopping"` or `"stopped"`."""
        return self._state

    @property
    def in_flight(self) -> int:
        """Tasks whose handler is running now."""
        return self._keeper.in_flight if self._keeper is not None else 0

    @property
    def completed(self) -> int:
        """Tasks run to a report (including those cancelled at shutdown) so far."""
        return self._keeper.completed if self._keeper is not None else 0

    @property
    def delivered(self) -> int:
        """Reports the control plane acknowledged so far."""
        return self._reporter.delivered if self._reporter is not None else 0

    @property
    def pending_reports(self) -> int:
        """Reports queued or being delivered."""
        return self._keeper.reporting if self._keeper is not None else 0

    @property
    def ok_reports(self) -> int:
        """Reports of status ok settled so far (acknowledged, or dropped by Tempest)."""
        return self._keeper.settled_ok if self._keeper is not None else 0

    @property
    def error_reports(self) -> int:
        """Reports of status error settled so far: tasks that failed, timed out, could
        not be read, or whose result Tempest refused."""
        return self._keeper.settled_errors if self._keeper is not None else 0

    @property
    def failed(self) -> bool:
        """Whether any report was an error, or could not be delivered (a one-shot run
        then exits with status 1)."""
        return self.error_reports > 0 or self.undelivered_reports > 0

    @property
    def undelivered_reports(self) -> int:
        """Reports still undelivered when the runner stopped: kept in the outbox for the
        next start when there is one, lost otherwise (each was logged at ERROR)."""
        return self._keeper.undelivered if self._keeper is not None else 0

    @property
    def operations_url(self) -> str | None:
        """The operations endpoint's URL (`http://127.0.0.1:8081`) while it serves."""
        return self._operations.url if self._operations is not None else None

    def liveness(self) -> Probe:
        """Whether the event loop answers: not while it has been blocked for longer than
        `blocked_loop_warning` (1 s when that is None). Thread-safe: serve it from a
        route of your own (the operations endpoint's `/livez` answers this)."""
        blocked = self._watchdog.blocked_for()
        if blocked >= self._watchdog.threshold:
            return Probe(
                False,
                f"the event loop has not answered for {blocked:.1f}s (threshold "
                f"{self._watchdog.threshold:g}s): an async handler probably calls blocking code",
            )
        return Probe(True, f"alive: the runner is {self._state}")

    def readiness(self) -> Probe:
        """Whether the runner serves tasks: connected and polling, its token accepted.

        Not ready while starting, once the control plane refused the token (until a
        poll succeeds again), while draining and once stopped. Thread-safe: serve it
        from a route of your own (the operations endpoint's `/readyz` answers this).
        """
        state = self._state
        if state != "running":
            reasons = {
                "new": "not started",
                "starting": "starting: connecting and making the first poll",
                "stopping": "draining: no new tasks, running tasks finishing",
                "stopped": "stopped",
            }
            return Probe(False, reasons.get(state, state))
        for poller in self._pollers:
            refused = poller.refused
            if refused is not None:
                return Probe(
                    False,
                    f"the control plane refused the token for app {poller.app.app_id} "
                    f"{poller.app.version}: {type(refused).__name__}",
                )
        served = ", ".join(f"{app.app_id} {app.version}" for app in self.apps)
        return Probe(True, f"ready: serving {served}")

    def sample(self) -> RunnerSample:
        """The runner's state now, as metrics show it; safe to call from any thread."""
        outbox, recorder = self._outbox, self._recorder
        health = tuple(
            (app_id, version, resource_type, status)
            for (app_id, version), statuses in list(self._health.items())
            for resource_type, status in statuses
        )
        return RunnerSample(
            in_flight=self.in_flight,
            slots=self.options.concurrency,
            pending_reports=self.pending_reports,
            outbox_reports=outbox.pending_count() if outbox is not None else None,
            retry_budget=self._budget.tokens if self._budget is not None else 0,
            health=health,
            blocked_seconds=self._watchdog.blocked_seconds,
            records_written=recorder.written if recorder is not None else 0,
            records_dropped=recorder.dropped if recorder is not None else 0,
        )

    def _checked_health(self, request: AppHealthReportRequest) -> None:
        self._health[(request.app_id, request.version)] = tuple(
            (str(item.type), str(item.status)) for item in request.health_reports
        )

    async def ready(self) -> None:
        """Wait until every app version is connected (if asked) and being polled.

        Raises:
            RunnerStartupError: the runner could not start (the reason and the fix are
                in the message).
            RuntimeError: the runner stopped before it was ready.
        """
        events = self._events()
        await events.settled.wait()
        if self._failure is not None:
            raise self._failure
        if not self._was_ready:
            raise RuntimeError("the runner stopped before it was ready")

    async def run(self) -> None:
        """Serve until `shutdown()` (or `abort()`), then drain and return.

        Cancelling the task that awaits `run()` stops at once, like `abort()`; use
        `shutdown()` for a graceful stop.

        Raises:
            RunnerStartupError: the runner could not start.
            RuntimeError: this runner already ran (create a new one).
        """
        if self._state != "new":
            raise RuntimeError(f"this runner is {self._state}; a Runner runs once")
        self._state = "starting"
        events = self._events()
        # Every task started from here inherits it: `ctx.stopping` of its handlers.
        marked = enter_stopping(events.stop)
        try:
            with young_threshold(self.options.young_gc_threshold):
                await self._run(events)
        except BaseExceptionGroup as group:
            startup = _first(group, RunnerStartupError)
            if startup is None:
                raise
            self._failure = startup
            raise startup from None
        except RunnerStartupError as exc:
            self._failure = exc
            raise
        finally:
            leave_stopping(marked)
            self._state = "stopped"
            events.settled.set()
            events.stopped.set()

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop gracefully and wait until `run()` has returned.

        Fetching stops at once; running tasks get `grace` seconds (default: the
        `shutdown_grace` option) to finish, then are cancelled and reported as
        failed; pending reports are delivered for up to `flush_timeout` more.
        Asked while the runner is still starting (connecting, first poll), it stops at
        once: no task runs yet, and none of those calls' retries are waited for.
        Safe to call more than once, and before the runner started.
        """
        if grace is not None:
            if not grace >= 0:
                raise ValueError(f"grace must be a number of seconds of at least 0, got {grace!r}")
            self._grace = grace
        events = self._events()
        events.stop.set()
        if self._state == "starting" and not self._was_ready:
            logger.info("stopping while starting: the connect and first poll are cancelled")
            self._cancel_root()
        if self._state in ("starting", "running", "stopping"):
            await events.stopped.wait()

    def abort(self) -> None:
        """Stop at once: cancel running tasks without reports and skip the flush.

        Reports already written to an outbox are delivered on the next start. Returns
        immediately; `run()` returns shortly after.
        """
        if self._events_ is not None:
            self._events_.stop.set()
        self._cancel_root()

    def _cancel_root(self) -> None:
        self._cancelled = True
        if self._root_scope is not None:
            self._root_scope.cancel()

    async def __aenter__(self) -> Runner:
        """Start `run()` in the background of the current task and wait until ready."""
        host = contextlib.AsyncExitStack()
        group = await host.enter_async_context(anyio.create_task_group())
        group.start_soon(self._run_in_background)
        self._host = host
        try:
            await self.ready()
        except BaseException:
            self._host = None
            self.abort()
            await host.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Shut down gracefully and wait until done."""
        host, self._host = self._host, None
        try:
            await self.shutdown()
        finally:
            if host is not None:
                await host.aclose()
        if exc is None and self._failure is not None:
            raise self._failure

    def start_in_thread(self, *, ready_timeout: float | None = 60.0) -> RunnerThread[Runner]:
        """Run in a background thread with its own event loop; returns a handle to stop it.

        Waits until the runner is ready (or `ready_timeout` seconds).

        Raises:
            RunnerStartupError: the runner could not start.
            TimeoutError: not ready within `ready_timeout`.
        """
        from ._thread import RunnerThread

        return RunnerThread.start(self, ready_timeout=ready_timeout)

    # -- internals ----------------------------------------------------------------------

    def _events(self) -> _Events:
        if self._events_ is None:
            self._events_ = _Events()
        return self._events_

    async def _run_in_background(self) -> None:
        try:
            await self.run()
        except RunnerStartupError:
            pass  # kept in self._failure; ready() raises it
        except Exception as exc:
            logger.exception("the runner failed")
            self._failure = exc

    def _make_client(self, factory: Callable[[], TaskSource] | None) -> TaskSource:
        from ..client import AsyncTempestClient, TempestConfigError

        # The pool follows what the runner may have in flight.
        pool = pool_keywords(self.options, len(self.apps))
        try:
            if factory is not None:
                return factory()
            # Built from the environment: its token is Tempest's, masked everywhere.
            return AsyncTempestClient(**pool, mask_token=True)
        except TempestConfigError as exc:
            raise RunnerStartupError(f"cannot build the API client: {exc}") from None

    async def _run(self, events: _Events) -> None:
        options = self.options
        async with contextlib.AsyncExitStack() as stack:
            hooks, registry = self._chain()
            recorder = self._open_recorder()
            if recorder is not None:
                # Outermost: it records the report the whole chain produced, as sent.
                hooks = (recorder, *hooks)
            for hook in hooks:
                hook.bind(self)
                stack.callback(hook.unbind, self)
            if options.operations_bind is not None:
                self._serve_operations(stack, registry, *options.operations_bind)
            given = self._client
            # A source has `next_task`; anything else given is a factory of one.
            if given is None or not hasattr(given, "next_task"):
                source = self._make_client(given)
                close = getattr(source, "aclose", None)
                if close is not None:
                    stack.push_async_callback(close)
            else:
                source = cast(TaskSource, given)
            outbox = (
                Outbox(
                    options.outbox,
                    max_reports=options.outbox_max_reports,
                    max_bytes=options.outbox_max_bytes,
                )
                if options.outbox is not None
                else None
            )
            pending = await anyio.to_thread.run_sync(outbox.open) if outbox else []
            budget = RetryBudget()
            self._budget, self._outbox = budget, outbox
            reporter = Reporter(
                source,
                options.retry_backoff,
                budget,
                overriding(hooks, "on_report"),
                senders=options.reporter_limit,
            )
            keeper = TaskKeeper(
                options,
                TaskLedger(options.dedup_size),
                outbox,
                reporter,
                task_interceptors(hooks),
            )
            self._reporter, self._keeper = reporter, keeper
            poll_hooks = overriding(hooks, "on_poll")
            self._pollers = [
                VersionPoller(app, source, options, keeper, budget, poll_hooks) for app in self.apps
            ]
            with anyio.CancelScope() as root:
                self._root_scope = root
                if self._cancelled:
                    root.cancel()
                try:
                    await self._serve(events, source, keeper, budget, pending)
                finally:
                    with anyio.CancelScope(shield=True):
                        await keeper.abandoned()
            if root.cancelled_caught and self._was_ready:
                logger.warning("the runner stopped at once; running tasks were abandoned")

    async def _serve(
        self,
        events: _Events,
        source: TaskSource,
        keeper: TaskKeeper,
        budget: RetryBudget,
        pending: list[TaskReport],
    ) -> None:
        options = self.options
        async with anyio.create_task_group() as root:
            keeper_scope = anyio.CancelScope()
            keeper_done = anyio.Event()
            await root.start(self._serve_keeper, keeper, keeper_scope, keeper_done)
            # From the start, so that liveness covers connecting and the lifespans.
            watching = anyio.CancelScope()
            if options.blocked_loop_warning is not None or options.operations_bind is not None:
                root.start_soon(self._watch, watching)
            if pending:
                logger.info("sending %d report(s) left in the outbox first", len(pending))
                for report in pending:
                    keeper.resend(report)
            if options.connect:
                await self._connect(source)
            async with self._lifespans():
                background = anyio.CancelScope()
                root.start_soon(self._background, background, source, budget)
                for poller in self._pollers:
                    await poller.probe()
                polling_scope = anyio.CancelScope()
                with polling_scope:
                    async with anyio.create_task_group() as polling:
                        for poller in self._pollers:
                            polling.start_soon(poller.serve)
                        if options.until_idle:
                            polling.start_soon(self._stop_when_idle, events, keeper)
                        self._became_ready(events)
                        await events.stop.wait()
                        self._state = "stopping"
                        keeper.begin_stop()
                        drain_deadline = anyio.current_time() + self._grace
                        # A `next` already in flight may finish (and its task run) within
                        # the grace period; no new one starts.
                        polling_scope.deadline = drain_deadline
                        logger.info(
                            "stopping: no new tasks; %d running task(s) have %.1fs to finish",
                            self.in_flight,
                            self._grace,
                        )
                        for poller in self._pollers:
                            poller.stop()
                await keeper.drain(drain_deadline, self._grace)
                # Handing off the last reports and delivering them share one deadline.
                keeper.close()
                keeper_scope.deadline = anyio.current_time() + options.flush_timeout
                await keeper_done.wait()
                background.cancel()
                watching.cancel()
        logger.info(
            "runner stopped: %d task(s) completed, %d report(s) delivered",
            self.completed,
            self.delivered,
        )
        if options.until_idle:
            self._log_summary()

    async def _stop_when_idle(self, events: _Events, keeper: TaskKeeper) -> None:
        """`until_idle`: stop once no task came for `idle_after` seconds after the last
        task or report, and every app version's `next` found none since."""
        quiet = self.options.idle_after
        wait = quiet
        while True:
            with anyio.move_on_after(wait):
                await events.stop.wait()
                return
            now = anyio.current_time()
            since = keeper.last_active
            emptied = all(
                poller.last_empty is not None and poller.last_empty >= since
                for poller in self._pollers
            )
            if not keeper.busy and emptied and now - since >= quiet:
                break
            # Busy, or no empty answer yet since the last task: look again a quiet
            # period after the last activity (at least a tenth of one from now).
            wait = max(since + quiet - now, quiet / 10) if not keeper.busy else quiet
        logger.info(
            "no task for %gs after the last one: the queue is empty, stopping (until_idle)",
            quiet,
        )
        events.stop.set()

    def _log_summary(self) -> None:
        """The one line a one-shot run ends with: how many reports, and how they went."""
        ok, errors, undelivered = self.ok_reports, self.error_reports, self.undelivered_reports
        lost = f", {undelivered} report(s) not delivered" if undelivered else ""
        summary_logger.log(
            logging.WARNING if errors or undelivered else logging.INFO,
            "one-shot run done: %d task(s) reported: %d ok, %d error%s",
            ok + errors,
            ok,
            errors,
            lost,
            extra={"ok": ok, "error": errors, "undelivered": undelivered},
        )

    @contextlib.asynccontextmanager
    async def _lifespans(self) -> AsyncIterator[None]:
        """Every app's lifespan, entered in order before the first poll and left in
        reverse after the flush (health checks may use what they provide)."""
        async with contextlib.AsyncExitStack() as stack:
            for app in self.apps:
                await stack.enter_async_context(_lifespan_of(app, app.serving()))
            yield

    def _became_ready(self, events: _Events) -> None:
        self._state = "running"
        self._was_ready = True
        events.settled.set()
        logger.info(
            "runner ready: serving %s with concurrency %d",
            ", ".join(f"{app.app_id} {app.version}" for app in self.apps),
            self.options.concurrency,
            extra={"concurrency": self.options.concurrency},
        )

    async def _serve_keeper(
        self,
        keeper: TaskKeeper,
        scope: anyio.CancelScope,
        done: anyio.Event,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            with scope:
                await keeper.serve(task_status=task_status)
        finally:
            done.set()

    async def _background(
        self, scope: anyio.CancelScope, source: TaskSource, budget: RetryBudget
    ) -> None:
        options = self.options
        with scope:
            async with anyio.create_task_group() as group:
                for app in self.apps:
                    group.start_soon(
                        functools.partial(
                            health_loop,
                            app,
                            source,
                            interval=options.health_interval,
                            timeout=options.health_timeout,
                            backoff=options.retry_backoff,
                            budget=budget,
                            on_checked=self._checked_health,
                        )
                    )

    async def _watch(self, scope: anyio.CancelScope) -> None:
        with scope:
            await self._watchdog.run()

    def _chain(self) -> tuple[tuple[Interceptor, ...], CollectorRegistry | None]:
        """The interceptors of this run, the first outermost: those given, and what the
        runner's own options add (the operations endpoint's metrics); with the registry
        that `/metrics` serves, if any."""
        hooks = self.options.hooks
        if self.options.operations_bind is None:
            return hooks, None
        from ._metrics import endpoint_metrics

        return endpoint_metrics(hooks)

    def _open_recorder(self) -> Recorder | None:
        """The recorder of `record=`, its file open, or None when recording is off."""
        options = self.options
        if options.record is None:
            return None
        from .._recordings import RecordFilter
        from ._record import Recorder, RecordWriter

        writer = RecordWriter(
            options.record, max_bytes=options.record_max_bytes, files=options.record_files
        )
        try:
            writer.open()
        except OSError as exc:
            raise RunnerStartupError(
                f"cannot record to {str(options.record)!r}: {exc.strerror or exc}. Fix: give "
                "record (--record, TEMPEST_RUNNER_RECORD) a file in a folder the app may write"
            ) from None
        only = RecordFilter.parse(options.record_only)
        self._recorder = Recorder(writer, only=only, sample=options.record_sample)
        logger.info(
            "recording %s%s to %s (rotated at %d bytes, %d file(s) kept)",
            f"tasks matching {only}" if only else "every task",
            f", {options.record_sample:.0%} sampled" if options.record_sample < 1 else "",
            options.record,
            options.record_max_bytes,
            options.record_files,
        )
        return self._recorder

    def _serve_operations(
        self,
        stack: contextlib.AsyncExitStack,
        registry: CollectorRegistry | None,
        host: str,
        port: int,
    ) -> None:
        from ._operations import OperationsServer

        server = OperationsServer(host, port, self.liveness, self.readiness, registry)
        self._operations = server

        async def close() -> None:
            self._operations = None
            await server.aclose()

        stack.push_async_callback(close)

    async def _connect(self, source: TaskSource) -> None:
        for app in self.apps:
            request = app.describe()
            try:
                response = await source.connect_app_version(request)
            except Exception as exc:
                raise RunnerStartupError(
                    f"cannot connect app {app.app_id} {app.version}: {exc}. Fix: check the "
                    "token and endpoint (TEMPEST_TOKEN, TEMPEST_API_ENDPOINT); if Tempest "
                    "rejected the definition, its message says which resource type is wrong."
                ) from exc
            metadata = getattr(response, "metadata", None)
            url = getattr(metadata, "tempest_app_url", None)
            logger.info(
                "connected app %s %s (%d resource type(s))%s",
                app.app_id,
                app.version,
                len(request.resources),
                f": {url}" if url else "",
                extra=app_fields(app.app_id, app.version),
            )


def _as_apps(apps: RunnableApp | Iterable[RunnableApp]) -> tuple[RunnableApp, ...]:
    if hasattr(apps, "dispatch"):
        result: tuple[RunnableApp, ...] = (apps,)  # type: ignore[assignment]
    else:
        result = tuple(apps)
    if not result:
        raise ValueError("a Runner needs at least one app")
    seen: set[tuple[str, str]] = set()
    for app in result:
        if not hasattr(app, "dispatch") or not hasattr(app, "app_id"):
            raise TypeError(f"expected a tempest_sdk.App, got {type(app).__name__}")
        key = (app.app_id, app.version)
        if key in seen:
            raise ValueError(f"app {app.app_id} {app.version} is given twice; serve each once")
        seen.add(key)
    return result


@contextlib.asynccontextmanager
async def _lifespan_of(
    app: RunnableApp, manager: contextlib.AbstractAsyncContextManager[object]
) -> AsyncIterator[None]:
    """Enter one app's lifespan: a failure to start is a startup error, a failure to end
    is logged (the runner has done its work by then)."""
    fields = app_fields(app.app_id, app.version)
    try:
        await manager.__aenter__()
    except Exception as exc:
        logger.error(
            "the lifespan of app %s %s failed", app.app_id, app.version, exc_info=True, extra=fields
        )
        raise RunnerStartupError(
            f"the lifespan of app {app.app_id} {app.version} failed: {describe_error(exc)}. "
            "Fix: the traceback in the log of tempest_sdk.runner shows where"
        ) from exc
    try:
        yield
    except BaseException as exc:
        if not await manager.__aexit__(type(exc), exc, exc.__traceback__):
            raise
        return
    try:
        await manager.__aexit__(None, None, None)
    except Exception:
        logger.error(
            "the lifespan of app %s %s failed while ending",
            app.app_id,
            app.version,
            exc_info=True,
            extra=fields,
        )


def _first(group: BaseExceptionGroup[BaseException], kind: type[_E]) -> _E | None:
    for exc in group.exceptions:
        if isinstance(exc, kind):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first(exc, kind)
            if found is not None:
                return found
    return None
