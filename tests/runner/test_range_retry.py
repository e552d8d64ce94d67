"""The runner's retry policy across the fault range, on asyncio, trio and uvloop.

Deterministic: the retry budget and its callers are driven step by step (who waits,
who is woken, in which order), pauses that would last minutes show that a wake-up,
not a timer, ended them, and the failure log is fed explicit times.
"""

from __future__ import annotations

import logging
import random

import anyio
import anyio.lowlevel
import pytest

from tempest_sdk._backoff import Backoff
from tempest_sdk.client import InternalServerError, RateLimitError
from tempest_sdk.runner import Runner
from tempest_sdk.runner._retry import (
    OUTAGE_AFTER,
    PLAIN_PAUSES,
    FailureLog,
    RetryBudget,
    quick_delay,
)

from .fakes import BACKENDS, FAST, FakeApp, FakeSource, make_task, run_on, wait_until

NEXT = "/apps.operations.next"
REPORT = "/apps.operations.report"
# Pauses that would outlast every test: only a wake-up ends them in time.
SLOW = Backoff(base=400.0, cap=400.0, rng=random.Random(7))


def unavailable(endpoint: str = REPORT) -> InternalServerError:
    return InternalServerError("503", endpoint=endpoint, status_code=503)


async def settle() -> None:
    """Let every runnable task run until it blocks."""
    for _ in range(20):
        await anyio.lowlevel.checkpoint()


# -- the policy, step by step ------------------------------------------------------------


def test_quick_retries_start_short_and_double_up_to_the_cap():
    backoff = Backoff(base=0.5, cap=10.0, rng=random.Random(5))
    assert all(quick_delay(backoff, 1) <= 0.5 / 16 for _ in range(50))
    assert all(quick_delay(backoff, 4) <= 0.25 for _ in range(50))
    assert max(quick_delay(backoff, 4) for _ in range(200)) > 0.125  # it doubles
    assert all(quick_delay(backoff, 60) <= 10.0 for _ in range(50))


def test_quick_retries_go_on_while_fewer_than_one_call_in_three_fails():
    budget = RetryBudget(capacity=30)
    # 30 % of calls fail: two tokens per retry, one per success, the budget holds.
    for call in range(1000):
        if call % 10 < 3:
            assert budget.withdraw(), call
        else:
            budget.deposit()
    # 50 % fail: it runs dry.
    budget = RetryBudget(capacity=30)
    paid = [budget.withdraw() if call % 2 else budget.deposit() for call in range(400)]
    assert budget.tokens < budget.cost
    assert paid.count(False) > 50


def test_the_first_failures_in_a_row_get_plain_quick_pauses_paid_by_the_budget():
    backoff = Backoff(base=0.5, cap=10.0, rng=random.Random(11))
    budget = RetryBudget(capacity=10)
    retrier = budget.retrier(backoff)
    pauses = [retrier.quick_pause(unavailable()) for _ in range(PLAIN_PAUSES)]
    assert all(p is not None and 0 <= p <= 0.5 / 8 for p in pauses), pauses
    assert retrier.failures == PLAIN_PAUSES
    assert budget.tokens == 10 - PLAIN_PAUSES * budget.cost
    # A longer run of failures goes to pause(): nothing taken, nothing counted.
    assert retrier.quick_pause(unavailable()) is None
    assert retrier.failures == PLAIN_PAUSES and budget.tokens == 10 - PLAIN_PAUSES * budget.cost
    # An answer starts a new run.
    retrier.succeeded()
    assert retrier.quick_pause(unavailable()) is not None


def test_no_plain_pause_without_tokens_for_the_prober_or_after_a_retry_after():
    backoff = Backoff(base=0.5, cap=10.0, rng=random.Random(12))
    dry = RetryBudget(capacity=1)
    retrier = dry.retrier(backoff)
    assert retrier.quick_pause(unavailable()) is None
    assert retrier.failures == 0 and dry.tokens == 1
    budget = RetryBudget()
    limited = RateLimitError("429", endpoint=NEXT, status_code=429, retry_after=2.0)
    assert budget.retrier(backoff).quick_pause(limited) is None
    prober = budget.retrier(backoff)
    budget._prober = prober
    assert prober.quick_pause(unavailable()) is None
    assert budget.tokens == budget.capacity


@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_pauses_end_by_themselves_and_longer_runs_wait_for_a_wake_up(backend):
    """The first failures' pauses are bounded plain sleeps; from the third failure in a
    row on, a pause of minutes ends only when the control plane answers again."""

    async def scenario() -> None:
        # A cap of minutes, a base so small that the plain pauses are microseconds.
        backoff = Backoff(base=1e-5, cap=400.0, rng=random.Random(13))
        budget = RetryBudget()
        retrier = budget.retrier(backoff)
        with anyio.fail_after(30):  # a safety net for a hang, not a measurement
            for _ in range(PLAIN_PAUSES):
                budget.failed("t", unavailable(), "call")
                await retrier.pause(unavailable())
        assert retrier.failures == PLAIN_PAUSES
        ended = anyio.Event()

        async def long_run() -> None:
            retrier.failures = 40  # its pause may last up to the 400 s cap
            budget.failed("t", unavailable(), "call")
            await retrier.pause(unavailable())
            ended.set()

        async with anyio.create_task_group() as group:
            group.start_soon(long_run)
            await settle()
            assert not ended.is_set()
            while not budget.down:
                budget.failed("t", unavailable(), "call")
            budget.succeeded()  # the end of an outage wakes it
            with anyio.fail_after(30):
                await ended.wait()
        assert budget.recoveries == 1

    run_on(backend, scenario)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dry_budget_paces_retries_by_answers_and_reports_go_first(backend):
    async def scenario() -> None:
        budget = RetryBudget(capacity=0)
        woken: list[str] = []

        async def fail_then_wait(name: str, priority: str) -> None:
            retrier = budget.retrier(SLOW, priority)  # type: ignore[arg-type]
            budget.failed("t", unavailable(), "call %s {failed}", name)
            await retrier.pause(unavailable())
            woken.append(name)
            retrier.close()

        async with anyio.create_task_group() as group:
            # The first failed caller becomes the prober; its pause would last minutes.
            group.start_soon(fail_then_wait, "prober", "other")
            await settle()
            for name, priority in [("next1", "other"), ("next2", "other"), ("report1", "report")]:
                group.start_soon(fail_then_wait, name, priority)
                await settle()
            assert budget.waiting == 3 and woken == []
            # One answer lets two waiting callers retry, the report first: next2
            # waited longer than report1, and still waits.
            budget.succeeded()
            await settle()
            assert sorted(woken) == ["next1", "report1"]
            assert budget.waiting == 1
            budget.succeeded()
            await settle()
            assert sorted(woken) == ["next1", "next2", "report1"]
            group.cancel_scope.cancel()

    run_on(backend, scenario)


@pytest.mark.parametrize("backend", BACKENDS)
def test_recovery_after_an_outage_wakes_every_waiting_and_pausing_caller(backend):
    async def scenario() -> None:
        budget = RetryBudget(capacity=4)
        woken: list[str] = []

        async def fail_then_pause(name: str, failures: int) -> None:
            retrier = budget.retrier(SLOW, "report" if name.startswith("r") else "other")
            retrier.failures = failures  # a long run of its own failures: a long pause
            budget.failed("t", unavailable(), "call %s {failed}", name)
            await retrier.pause(unavailable())
            woken.append(name)
            retrier.close()

        async with anyio.create_task_group() as group:
            # Two quick retries (paid by the budget, pauses of up to 400 s), then a
            # prober, then waiting callers.
            for name in ["quick1", "quick2", "prober", "r1", "r2", "n1", "n2"]:
                group.start_soon(fail_then_pause, name, 30)
                await settle()
            while not budget.down:
                budget.failed("t", unavailable(), "call")
            assert budget.waiting == 4 and woken == []
            budget.succeeded()
            await wait_until(lambda: len(woken) == 7, "every caller woken")
        assert sorted(woken) == sorted(["quick1", "quick2", "prober", "r1", "r2", "n1", "n2"])
        assert budget.recoveries == 1 and not budget.down

    run_on(backend, scenario)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_prober_that_stops_hands_its_role_to_a_waiting_caller(backend):
    async def scenario() -> None:
        budget = RetryBudget(capacity=0)
        woken: list[str] = []

        async def caller(name: str) -> None:
            retrier = budget.retrier(SLOW)
            try:
                budget.failed("t", unavailable(), "call")
                await retrier.pause(unavailable())
                woken.append(name)
            finally:
                retrier.close()

        async with anyio.create_task_group() as group:
            prober_scope = anyio.CancelScope()

            async def prober() -> None:
                with prober_scope:
                    await caller("prober")

            group.start_soon(prober)
            await settle()
            group.start_soon(caller, "waiter")
            await settle()
            assert budget.waiting == 1
            prober_scope.cancel()
            await wait_until(lambda: woken == ["waiter"], "the waiting caller to take over")

    run_on(backend, scenario)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_down_control_plane_gets_one_prober_not_a_retry_storm(backend):
    async def scenario() -> None:
        budget = RetryBudget()
        backoff = Backoff(base=0.2, cap=0.5, rng=random.Random(3))
        down = True
        calls = 0

        async def call() -> None:
            nonlocal calls
            calls += 1
            await anyio.lowlevel.checkpoint()
            if down:
                raise unavailable()

        async def caller() -> None:
            retrier = budget.retrier(backoff)
            try:
                while True:
                    try:
                        await call()
                    except InternalServerError as exc:
                        budget.failed("t", exc, "call")
                        await retrier.pause(exc)
                        continue
                    retrier.succeeded("t")
                    return
            finally:
                retrier.close()

        async with anyio.create_task_group() as group:
            for _ in range(50):
                group.start_soon(caller)
            await wait_until(lambda: budget.down and budget.waiting == 49, "49 waiting callers")
            at_outage = calls
            await anyio.sleep(0.5)
            # Only the prober called meanwhile, its pauses growing with the outage.
            probes = calls - at_outage
            assert 1 <= probes <= 25, probes
            down = False
            with anyio.fail_after(5):
                await wait_until(lambda: budget.waiting == 0, "every caller woken")
        # 50 first calls, 50 quick retries (100 tokens at 2), the probes, 49 woken.
        assert calls <= 50 + 50 + probes + 2 + 49, calls
        assert budget.recoveries == 1

    run_on(backend, scenario)


def test_retry_after_is_honoured_within_the_cap():
    async def scenario() -> None:
        budget = RetryBudget()
        retrier = budget.retrier(Backoff(base=0.002, cap=0.05))
        limited = RateLimitError("429", endpoint=NEXT, status_code=429, retry_after=0.03)
        assert await retrier.pause(limited) >= 0.03
        flooding = RateLimitError("429", endpoint=NEXT, status_code=429, retry_after=3600.0)
        with anyio.fail_after(5):
            assert await retrier.pause(flooding) < 5

    anyio.run(scenario)


# -- in a runner -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_reports_go_through_while_next_keeps_failing(backend):
    """Finished tasks' reports do not wait for `next` to recover."""
    source, app = FakeSource(), FakeApp()
    tasks: list[object] = [make_task(f"t{i}") for i in range(8)]
    source.push("shop", "v1", *tasks, *(unavailable(NEXT) for _ in range(200)))

    async def scenario() -> None:
        options = {**FAST, "retry_backoff": Backoff(base=0.01, cap=0.05, rng=random.Random(2))}
        async with Runner(app, source, concurrency=4, **options) as runner:
            await wait_until(lambda: len(source.acked) == 8, "the 8 reports", timeout=10)
            assert runner._budget is not None
            # `next` fails on; the reports were not held back behind it.
            assert source.queues[("shop", "v1")]

    run_on(backend, scenario)


@pytest.mark.parametrize("backend", BACKENDS)
def test_after_an_outage_pending_reports_and_polling_resume_at_once(backend, caplog):
    """Every call fails for a while (the runner sees an outage); then the control
    plane answers. Pauses of up to 400 s would follow without the wake-up."""
    caplog.set_level(logging.INFO, logger="tempest_sdk.runner")
    source, app = FakeSource(), FakeApp()
    outage = True
    report = source.report
    next_task = source.next_task

    async def flaky_report(item, /, **kwargs):  # type: ignore[no-untyped-def]
        if outage:
            await anyio.lowlevel.checkpoint()
            raise unavailable()
        return await report(item, **kwargs)

    async def flaky_next(app_id, version, /, **kwargs):  # type: ignore[no-untyped-def]
        if outage and source.queues[(app_id, version)] and len(app.calls) >= 6:
            await anyio.lowlevel.checkpoint()
            raise unavailable(NEXT)
        return await next_task(app_id, version, **kwargs)

    source.report = flaky_report  # type: ignore[method-assign]
    source.next_task = flaky_next  # type: ignore[method-assign]
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(20)))
    slow_cap = Backoff(base=0.02, cap=400.0, rng=random.Random(4))

    async def scenario() -> None:
        nonlocal outage
        async with Runner(app, source, concurrency=6, **{**FAST, "retry_backoff": slow_cap}) as r:
            budget = r._budget
            assert budget is not None
            await wait_until(lambda: len(app.calls) >= 6, "six tasks run")
            await wait_until(lambda: budget.down, "the outage to be seen", timeout=10)
            # Let the failures accumulate so that quick pauses grow long.
            await anyio.sleep(0.3)
            outage = False
            await wait_until(lambda: len(source.acked) == 20, "every report after the outage")
        assert budget.recoveries >= 1

    run_on(backend, scenario)
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("the control plane answers again after") for m in messages), messages


@pytest.mark.parametrize("backend", BACKENDS)
def test_failures_are_logged_once_per_episode_not_once_per_call(backend, caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk.runner")
    source, app = FakeSource(), FakeApp()
    ids = [f"t{i}" for i in range(40)]
    for task_id in ids:
        source.report_errors[task_id].append(unavailable())
    source.push("shop", "v1", *(make_task(task_id) for task_id in ids))

    async def scenario() -> None:
        # At most 8 reports are pending at once (4 slots, a backlog of 4), each fails
        # once: never ten failures in a row, so no outage ends the episode early.
        async with Runner(app, source, concurrency=4, **FAST):
            await wait_until(lambda: len(source.acked) == 40, "every report", timeout=10)

    run_on(backend, scenario)
    assert sum(source.report_attempts.values()) == 80  # 40 failed calls
    failed = [r for r in caplog.records if "report of task" in r.getMessage()]
    assert len(failed) == 1, [r.getMessage() for r in failed]
    assert failed[0].levelno == logging.WARNING
    assert "further failures of reports are counted" in failed[0].getMessage()


# -- the failure log, fed explicit times ---------------------------------------------------


def test_the_failure_log_summarises_per_kind_per_interval_and_logs_the_end(caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk.runner")
    log = FailureLog(interval=10.0)
    busy = unavailable()
    slow = RateLimitError("429", endpoint=REPORT, status_code=429)

    def fail(exc: BaseException, now: float) -> None:
        log.failed("reports", exc, now, "report of task %s {failed}", ("t1",), {"task_id": "t1"})

    fail(busy, 0.0)
    assert [r.getMessage() for r in caplog.records] == [
        "report of task t1 failed: InternalServerError: 503; retrying (further failures of "
        "reports are counted and logged every 10s)"
    ]
    caplog.clear()
    for second in range(1, 10):
        fail(busy, float(second))
        fail(slow, second + 0.5)
        log.succeeded("reports", second + 0.7)
    assert caplog.records == []  # within the interval: counted only
    fail(busy, 10.2)  # the interval is over: one summary per kind
    summaries = [r.getMessage() for r in caplog.records]
    assert len(summaries) == 2, summaries
    assert summaries[0].startswith("reports: 10 more failure(s) in the last 10.2s (9 answered)")
    assert summaries[1].startswith("reports: 9 more failure(s) in the last 10.2s (9 answered)")
    assert "RateLimitError: 429" in summaries[1]
    caplog.clear()
    log.succeeded("reports", 15.0)  # the last failure was 4.8 s ago: still the episode
    assert caplog.records == []
    log.succeeded("reports", 20.3)
    [end] = caplog.records
    assert end.levelno == logging.INFO
    assert end.getMessage().startswith("reports works again: 20 call(s) failed over 10.2s")
    caplog.clear()
    fail(busy, 30.0)  # a new episode is logged at once
    assert len(caplog.records) == 1


def test_an_outage_ends_every_episode_with_one_record(caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk.runner")
    log = FailureLog(interval=10.0)
    for second in range(5):
        log.failed("reports", unavailable(), float(second), "report of task %s", ("t",), {})
        log.failed("polling for app a v1", unavailable(NEXT), second + 0.5, "polling", (), {})
    caplog.clear()
    log.recovered(5.0, OUTAGE_AFTER, woken=7)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "the control plane answers again after 5.0s of failures (10 failed call(s), the "
        "last 10 in a row); 7 waiting call(s) retry now"
    )
    caplog.clear()
    log.succeeded("reports", 6.0)
    assert caplog.records == []  # the episode ended with the outage


@pytest.mark.parametrize("backend", BACKENDS)
def test_after_an_outage_the_next_callers_come_back_at_once(backend):
    """The first task after an outage starts every caller the free slots allow, where
    growth would otherwise double round trip by round trip."""
    source, app = FakeSource(), FakeApp()
    source.next_delay = 0.01
    outage = False
    next_task = source.next_task
    report = source.report

    async def flaky_next(app_id, version, /, **kwargs):  # type: ignore[no-untyped-def]
        if outage:
            await anyio.lowlevel.checkpoint()
            raise unavailable(NEXT)
        return await next_task(app_id, version, **kwargs)

    async def flaky_report(item, /, **kwargs):  # type: ignore[no-untyped-def]
        if outage:
            await anyio.lowlevel.checkpoint()
            raise unavailable()
        return await report(item, **kwargs)

    source.next_task = flaky_next  # type: ignore[method-assign]
    source.report = flaky_report  # type: ignore[method-assign]
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(400)))
    options = {**FAST, "retry_backoff": Backoff(base=0.02, cap=0.1, rng=random.Random(6))}

    async def scenario() -> None:
        nonlocal outage
        async with Runner(app, source, concurrency=16, **options) as runner:
            [poller] = runner._pollers
            budget = runner._budget
            assert budget is not None
            await wait_until(lambda: poller.callers >= 8, "the callers to grow")
            outage = True
            await wait_until(lambda: budget.down and poller.callers == 1, "one scout left")
            source.next_log.clear()
            outage = False
            await wait_until(lambda: len(source.next_log) >= 8, "eight calls after it")
            # Doubling would have at most 4 calls in flight among the first 8.
            assert max(in_flight for in_flight, _ in source.next_log[:8]) >= 6, source.next_log
            await wait_until(lambda: len(source.acked) == 400, "every report", timeout=20)

    run_on(backend, scenario)


def test_report_events_count_the_failed_attempts_before_the_answer():
    from tempest_sdk.client import NotFoundError
    from tempest_sdk.runner import ReportEvent, RunnerHook

    class Events(RunnerHook):
        def __init__(self) -> None:
            self.seen: list[tuple[str, str, int]] = []

        async def on_report(self, event: ReportEvent) -> None:
            self.seen.append((event.task_id, event.outcome, event.attempt))

    source, app, hook = FakeSource(), FakeApp(), Events()
    source.report_errors["t1"].extend([unavailable(), unavailable()])
    gone = NotFoundError("404", endpoint=REPORT, status_code=404)
    source.report_errors["t2"].extend([unavailable(), gone])
    source.push("shop", "v1", make_task("t1"), make_task("t2"))

    async def scenario() -> None:
        async with Runner(app, source, concurrency=1, hooks=[hook], **FAST):
            await wait_until(lambda: len(hook.seen) == 5, "five report events")

    anyio.run(scenario)
    assert hook.seen == [
        ("t1", "retrying", 0),
        ("t1", "retrying", 1),
        ("t1", "acked", 2),
        ("t2", "retrying", 0),
        ("t2", "gone", 1),
    ]
