"""The runner's scheduling against in-memory fakes: slots, polling, dedup, reports."""

from __future__ import annotations

import logging

import anyio
import pytest

from tempest_sdk.client import (
    APIConnectionError,
    APIResponseTooLargeError,
    APIStatusError,
    APITLSError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    RequestRejectedError,
)
from tempest_sdk.models import MalformedTaskError, ReportStatus, Task, TaskReport
from tempest_sdk.runner import Runner, RunnerStartupError

from .fakes import FAST, FakeApp, FakeSource, make_task, ok_report, wait_until

NEXT = "/apps.operations.next"
REPORT = "/apps.operations.report"


def server_error(endpoint: str = NEXT) -> InternalServerError:
    return InternalServerError("503", endpoint=endpoint, status_code=503)


async def test_runs_every_task_once_and_reports_it():
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(20)))
    async with Runner(app, source, concurrency=4, **FAST):
        await wait_until(lambda: len(source.acked) == 20, "20 reports")
    assert sorted(app.calls) == sorted(f"t{i}" for i in range(20))
    assert sorted(source.acked_ids()) == sorted(f"t{i}" for i in range(20))
    assert all(report.status is ReportStatus.OK for report in source.acked)


async def test_first_poll_keeps_client_retries_then_single_attempts():
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1"))
    async with Runner(app, source, concurrency=2, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "a report")
        await wait_until(lambda: len(source.next_retries) >= 3, "a few polls")
    assert source.next_retries[0] == "default"
    assert set(source.next_retries[1:]) == {0}
    assert set(source.report_retries) == {0}


async def test_never_fetches_without_a_free_slot():
    source = FakeSource()
    gate = anyio.Event()

    async def slow(task: Task) -> TaskReport:
        await gate.wait()
        return ok_report(task)

    app = FakeApp(handler=slow)
    source.running = lambda: app.running
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(30)))
    async with Runner(app, source, concurrency=3, pollers=3, **FAST) as runner:
        await wait_until(lambda: app.running == 3, "3 running handlers")
        polls_when_full = sum(source.next_calls.values())
        await anyio.sleep(0.05)
        # All slots are taken: nobody polls, however long we wait.
        assert sum(source.next_calls.values()) == polls_when_full
        assert runner.in_flight == 3
        gate.set()
        await wait_until(lambda: len(source.acked) == 30, "30 reports")
    assert app.max_running == 3
    # At every `next`, the calls in flight and the running handlers fit in the slots.
    assert all(calls + running <= 3 for calls, running in source.next_log)


async def test_idle_version_is_polled_by_one_scout_whose_task_grows_the_callers_again():
    source = FakeSource()
    gate = anyio.Event()

    async def slow(task: Task) -> TaskReport:
        await gate.wait()
        return ok_report(task)

    app = FakeApp(handler=slow)
    async with Runner(app, source, concurrency=8, pollers=4, **FAST):
        await wait_until(lambda: sum(source.next_calls.values()) >= 30, "30 idle polls")
        # After the first round of 204s, a single caller polls at a time.
        assert max(calls for calls, _ in source.next_log[8:]) == 1
        source.push("shop", "v1", *(make_task(f"t{i}") for i in range(8)))
        # The scout finds a task and starts more callers: work runs in parallel.
        await wait_until(lambda: app.running >= 4, "4 handlers running at once")
        gate.set()
        await wait_until(lambda: len(source.acked) == 8, "8 reports")


def test_idle_pauses_grow_to_the_maximum_and_jitter_upwards():
    """An idle version costs at most 60 / poll_interval_max requests a minute."""
    from tempest_sdk.runner import RunnerOptions
    from tempest_sdk.runner._poller import VersionPoller

    options = RunnerOptions(poll_interval_min=0.1, poll_interval_max=5.0)
    poller = VersionPoller(FakeApp(), FakeSource(), options, None, None, ())  # type: ignore[arg-type]
    for streak, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (7, 5.0), (40, 5.0)]:
        poller._empty_streak = streak
        delays = [poller._idle_pause() for _ in range(200)]
        assert all(ceiling <= d <= ceiling * 1.1 for d in delays)


async def test_poll_errors_back_off_and_serving_continues(caplog):
    source, app = FakeSource(), FakeApp()
    source.push(
        "shop",
        "v1",
        None,
        server_error(),
        APIConnectionError("connection reset", endpoint=NEXT),
        RateLimitError("slow down", endpoint=NEXT, status_code=429, retry_after=0.001),
        make_task("t1"),
        server_error(),
        make_task("t2"),
    )
    async with Runner(app, source, concurrency=1, **FAST):
        await wait_until(lambda: len(source.acked) == 2, "2 reports")
    assert source.acked_ids() == ["t1", "t2"]
    assert "polling for app shop v1 failed" in caplog.text


async def test_rejected_token_at_start_is_a_startup_error_saying_how_to_fix_it():
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", AuthenticationError("401 token", endpoint=NEXT, status_code=401))
    runner = Runner(app, source, **FAST)
    with pytest.raises(RunnerStartupError, match="TEMPEST_TOKEN") as info:
        async with runner:
            pass
    assert "shop v1" in str(info.value)
    with pytest.raises(RunnerStartupError):
        await runner.ready()


async def test_unreachable_at_start_fails_run():
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", APIConnectionError("refused", endpoint=NEXT))
    with pytest.raises(RunnerStartupError, match="reachable"):
        await Runner(app, source, **FAST).run()


def too_large() -> APIResponseTooLargeError:
    return APIResponseTooLargeError(
        f"POST {NEXT} sent more than max_response_size (1,048,576 bytes)",
        endpoint=NEXT,
        limit=1024 * 1024,
    )


async def test_an_oversized_answer_is_logged_and_polling_goes_on(caplog):
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", None, too_large(), too_large(), make_task("t1"))
    async with Runner(app, source, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the task after the oversized answers")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    # Logged once (the second failure is counted in the episode, not logged again).
    assert [m for m in errors if "max_response_size" in m] == [
        m for m in errors if m.startswith("polling for app shop v1 failed")
    ], errors
    assert len(errors) == 1, errors


async def test_an_oversized_first_answer_does_not_stop_the_runner_from_starting():
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", too_large(), make_task("t1"))
    async with Runner(app, source, **FAST) as runner:
        await runner.ready()
        await wait_until(lambda: len(source.acked) == 1, "the task after the oversized answer")


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (APIConnectionError("refused", endpoint=NEXT), "Fix: check that Tempest is reachable"),
        (
            APITLSError("TLS certificate problem: ...; give its CA bundle", endpoint=NEXT),
            None,
        ),
        (
            APIStatusError(
                "answered 405: ...; check that the endpoint (TEMPEST_API_ENDPOINT ...",
                endpoint=NEXT,
                status_code=405,
            ),
            None,
        ),
    ],
    ids=["connection", "tls", "status"],
)
async def test_the_startup_error_adds_advice_only_where_the_error_has_none(error, advice):
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", error)
    with pytest.raises(RunnerStartupError) as caught:
        await Runner(app, source, **FAST).run()
    message = str(caught.value)
    assert str(error) in message
    if advice is None:
        assert "Fix:" not in message
    else:
        assert advice in message


async def test_rejected_token_later_is_logged_loudly_and_retried(caplog):
    source, app = FakeSource(), FakeApp()
    auth = AuthenticationError("the API token was rejected", endpoint=NEXT, status_code=401)
    source.push("shop", "v1", None, auth, auth, make_task("t1"))
    async with Runner(app, source, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "a report after the token works")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("refused" in r.getMessage() for r in errors)


async def test_malformed_answers_are_reported_when_their_task_is_known(caplog):
    source, app = FakeSource(), FakeApp()
    source.push(
        "shop",
        "v1",
        MalformedTaskError("malformed task 'bad1': task.resource: Field required", task_id="bad1"),
        MalformedTaskError("malformed task: (root): Invalid JSON"),
        make_task("t1"),
    )
    async with Runner(app, source, concurrency=1, **FAST):
        await wait_until(lambda: len(source.acked) == 2, "2 reports")
    by_id = {report.task_id: report for report in source.acked}
    assert by_id["bad1"].status is ReportStatus.ERROR
    assert "task.resource" in (by_id["bad1"].message or "")
    assert by_id["t1"].status is ReportStatus.OK
    assert app.calls == ["t1"]
    assert "cannot be read" in caplog.text


async def test_redelivered_while_running_is_not_started_twice():
    source = FakeSource()
    gate = anyio.Event()

    async def slow(task: Task) -> TaskReport:
        await gate.wait()
        return ok_report(task)

    app = FakeApp(handler=slow)
    task = make_task("t1")
    source.push("shop", "v1", task)
    async with Runner(app, source, concurrency=4, **FAST):
        await wait_until(lambda: app.running == 1, "the handler running")
        source.push("shop", "v1", task, task)
        await wait_until(lambda: not source.queues[("shop", "v1")], "redeliveries fetched")
        gate.set()
        await wait_until(lambda: len(source.acked) == 1, "the report")
    assert app.calls == ["t1"]
    assert source.acked_ids() == ["t1"]


async def test_redelivered_after_report_sends_the_stored_report_again():
    source, app = FakeSource(), FakeApp()
    task = make_task("t1")
    source.push("shop", "v1", task)
    async with Runner(app, source, concurrency=2, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the first report")
        source.push("shop", "v1", task)
        await wait_until(lambda: len(source.acked) == 2, "the report sent again")
    assert app.calls == ["t1"]
    assert source.acked[0].to_wire() == source.acked[1].to_wire()


async def test_redelivered_while_report_is_retried_is_not_run_again():
    source, app = FakeSource(), FakeApp()
    task = make_task("t1")
    source.report_errors["t1"].extend(server_error(REPORT) for _ in range(5))
    source.push("shop", "v1", task)
    async with Runner(app, source, concurrency=2, **FAST):
        await wait_until(lambda: source.report_attempts["t1"] >= 2, "a failing report")
        source.push("shop", "v1", task)
        await wait_until(lambda: len(source.acked) == 1, "the report")
    assert app.calls == ["t1"]
    assert source.report_attempts["t1"] == 6


async def test_reports_are_retried_until_acknowledged():
    source, app = FakeSource(), FakeApp()
    source.report_errors["t1"].extend(
        [
            server_error(REPORT),
            APIConnectionError("dropped", endpoint=REPORT),
            AuthenticationError("401", endpoint=REPORT, status_code=401),
            server_error(REPORT),
        ]
    )
    source.push("shop", "v1", make_task("t1"))
    async with Runner(app, source, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the report")
    assert source.report_attempts["t1"] == 5


async def test_report_of_a_gone_task_is_dropped_with_a_warning(caplog):
    source, app = FakeSource(), FakeApp()
    source.report_errors["t1"].append(NotFoundError("404", endpoint=REPORT, status_code=404))
    source.push("shop", "v1", make_task("t1"), make_task("t2"))
    async with Runner(app, source, concurrency=1, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the other report")
        await wait_until(lambda: source.report_attempts["t1"] == 1, "the 404")
    assert source.acked_ids() == ["t2"]
    assert "unknown to Tempest (404)" in caplog.text


async def test_rejected_result_is_replaced_by_an_error_report():
    source, app = FakeSource(), FakeApp()
    rejected = BadRequestError(
        "400", endpoint=REPORT, status_code=400, error="response.resource: required"
    )
    source.report_errors["t1"].append(rejected)
    source.push("shop", "v1", make_task("t1"))
    async with Runner(app, source, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the error report")
    [report] = source.acked
    assert report.status is ReportStatus.ERROR
    assert "response.resource: required" in (report.message or "")


def too_large_request(task_id: str) -> RequestRejectedError:
    return RequestRejectedError(
        f"413 for {task_id}", endpoint=REPORT, status_code=413, error="request too large"
    )


async def test_a_report_refused_for_good_is_replaced_once_then_dropped(caplog):
    """413 on every report: never retried, and handlers keep running, slots free."""
    source, app = FakeSource(), FakeApp()
    ids = [f"t{i}" for i in range(40)]
    for task_id in ids:
        # The ok report, then the error report that replaces it: both refused.
        source.report_errors[task_id].extend([too_large_request(task_id)] * 2)
    source.push("shop", "v1", *(make_task(task_id) for task_id in ids))
    async with Runner(app, source, concurrency=4, **FAST):
        await wait_until(lambda: len(app.calls) == 40, "every handler to run")
        await wait_until(lambda: sum(source.report_attempts.values()) == 80, "80 attempts")
    assert source.acked == []
    assert all(source.report_attempts[task_id] == 2 for task_id in ids)
    dropped = [r.getMessage() for r in caplog.records if "report dropped" in r.getMessage()]
    assert len(dropped) == 40
    assert all(f"task {task_id} " in " ".join(dropped) for task_id in ids)


@pytest.mark.parametrize("status", [409, 413, 422])
async def test_a_result_refused_for_good_is_replaced_by_an_error_report(status):
    source, app = FakeSource(), FakeApp()
    refused = RequestRejectedError(
        str(status), endpoint=REPORT, status_code=status, error="not like this"
    )
    source.report_errors["t1"].append(refused)
    source.push("shop", "v1", make_task("t1"))
    async with Runner(app, source, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the error report")
    [report] = source.acked
    assert report.status is ReportStatus.ERROR
    assert report.message == f"Tempest rejected the app's result ({status}): not like this"
    assert source.report_attempts["t1"] == 2


@pytest.mark.parametrize("status", [408, 429, 503])
async def test_a_report_refused_for_now_is_retried(status):
    source, app = FakeSource(), FakeApp()
    source.report_errors["t1"].extend(
        APIStatusError(str(status), endpoint=REPORT, status_code=status) for _ in range(2)
    )
    source.push("shop", "v1", make_task("t1"))
    async with Runner(app, source, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the report")
    assert source.acked[0].status is ReportStatus.OK
    assert source.report_attempts["t1"] == 3


async def test_undeliverable_reports_hold_back_fetching():
    source, app = FakeSource(), FakeApp()
    source.report_gate = anyio.Event()  # every report waits: the control plane is stuck
    source.push("shop", "v1", *(make_task(f"t{i}") for i in range(50)))
    async with Runner(app, source, concurrency=2, reporters=1, **FAST):
        await wait_until(lambda: len(app.calls) >= 4, "the backlog to fill")
        await anyio.sleep(0.05)
        # A backlog of 2 reports (1 in delivery) + 2 handlers holding their slots.
        assert len(app.calls) == 4
        source.report_gate.set()
        await wait_until(lambda: len(source.acked) == 50, "every report")


async def test_dispatch_gets_the_timeout_and_a_shared_thread_limiter():
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1"), make_task("t2"))
    async with Runner(app, source, concurrency=5, task_timeout=12.5, **FAST):
        await wait_until(lambda: len(source.acked) == 2, "2 reports")
    assert app.timeouts == [12.5, 12.5]
    first, second = app.limiters
    assert first is second
    assert first is not None
    assert first.total_tokens == 5


async def test_dispatch_bug_becomes_an_error_report(caplog):
    async def broken(task: Task) -> TaskReport:
        raise RuntimeError("bug in dispatch")

    source, app = FakeSource(), FakeApp(handler=broken)
    source.push("shop", "v1", make_task("t1"), make_task("t2"))
    async with Runner(app, source, concurrency=1, **FAST):
        await wait_until(lambda: len(source.acked) == 2, "2 reports")
    assert all(report.status is ReportStatus.ERROR for report in source.acked)
    assert "internal error" in (source.acked[0].message or "")


async def test_several_apps_are_served_each_with_its_own_tasks():
    source = FakeSource()
    shop, blog = FakeApp("shop", "v1"), FakeApp("blog", "v2")
    source.push("shop", "v1", make_task("s1"), make_task("s2"))
    source.push("blog", "v2", make_task("b1"))
    async with Runner([shop, blog], source, **FAST):
        await wait_until(lambda: len(source.acked) == 3, "3 reports")
    assert sorted(shop.calls) == ["s1", "s2"]
    assert blog.calls == ["b1"]


def test_an_app_version_given_twice_is_refused():
    with pytest.raises(ValueError, match="given twice"):
        Runner([FakeApp(), FakeApp()], FakeSource())
    with pytest.raises(ValueError, match="at least one app"):
        Runner([], FakeSource())


async def test_connect_declares_every_version_before_polling():
    source = FakeSource()
    apps = [FakeApp("shop", "v1"), FakeApp("shop", "v2")]
    async with Runner(apps, source, connect=True, **FAST):
        assert [(c.app_id, c.version) for c in source.connects] == [("shop", "v1"), ("shop", "v2")]


async def test_failed_connect_is_a_startup_error():
    source = FakeSource()
    source.connect_error = AuthenticationError(
        "401", endpoint="/apps.version.connect", status_code=401
    )
    with pytest.raises(RunnerStartupError, match="cannot connect app shop v1"):
        async with Runner(FakeApp(), source, connect=True, **FAST):
            pass
    assert source.next_calls.total() == 0


async def test_structured_fields_on_task_records(caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk.runner")
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1", action="rebuild"))
    async with Runner(app, source, **FAST):
        await wait_until(lambda: len(source.acked) == 1, "the report")
    [record] = [r for r in caplog.records if getattr(r, "task_id", None) == "t1"]
    assert record.app_id == "shop"
    assert record.app_version == "v1"
    assert record.task_kind == "action"
    assert record.action == "rebuild"
    assert not hasattr(record, "operation")  # an action names no operation
    assert record.resource_type == "example"
    assert record.status == "ok"
    assert record.duration >= 0
