"""One-shot runs (`until_idle`): serve until the queue is empty, report, and say how it went.

The real runner against the real emulator on 127.0.0.1 (asyncio, trio, uvloop), and
`run()` standalone; the command line's `serve --once` is in tests/cli.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import tempest_sdk as tempest
from tempest_sdk.client import InternalServerError
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner, RunnerConfigError, options_from_env, run

from .fakes import FAST, FakeApp, FakeSource, make_task
from .observability import BACKEND_IDS, BACKENDS, run_on

N = 6
QUIET = 0.3


def batch_app(*, slow: float = 0.0) -> tempest.App:
    """`create` succeeds (after `slow` seconds), `delete` fails; `read` is a plain def."""
    app = tempest.App("batch", "v1")
    item = app.resource(
        "item", display_name="Item", description="An item.", properties={"type": "object"}
    )

    @item.create
    async def create(ctx: tempest.Context) -> tempest.Resource:
        await anyio.sleep(slow)
        return tempest.Resource(external_id="i-1", display_name="i")

    @item.read
    def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        return resource

    @item.delete
    async def delete(ctx: tempest.Context, resource: tempest.Resource) -> None:
        raise RuntimeError("cannot delete")

    return app


def enqueue(emulator: Emulator, operation: str, count: int) -> list[str]:
    return [
        emulator.enqueue_operation(
            "batch", "v1", operation=operation, resource_type="item", external_id="i-1"
        )
        for _ in range(count)
    ]


def statuses(emulator: Emulator, ids: list[str]) -> list[str]:
    return [report["status"] for task_id in ids for report in emulator.reports(task_id)]


async def drains_the_queue_and_stops() -> None:
    emulator = Emulator(seed=5)
    ids = enqueue(emulator, "create", N - 1) + enqueue(emulator, "read", 1)
    async with emulator.serve(), emulator.client() as client:
        assert emulator.url.startswith("http://127.0.0.1:")
        runner = Runner(batch_app(), client, until_idle=True, idle_after=QUIET, **FAST)
        with anyio.fail_after(30):
            await runner.run()  # returns by itself: nobody calls shutdown()
    assert statuses(emulator, ids) == ["ok"] * N
    assert (runner.ok_reports, runner.error_reports, runner.failed) == (N, 0, False)


async def one_failure_fails_the_run() -> None:
    emulator = Emulator(seed=6)
    ids = enqueue(emulator, "create", N - 1) + enqueue(emulator, "delete", 1)
    async with emulator.serve(), emulator.client() as client:
        runner = Runner(batch_app(), client, until_idle=True, idle_after=QUIET, **FAST)
        with anyio.fail_after(30):
            await runner.run()
    assert sorted(statuses(emulator, ids)) == ["error"] + ["ok"] * (N - 1)
    assert (runner.ok_reports, runner.error_reports, runner.failed) == (N - 1, 1, True)


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
def test_a_one_shot_run_reports_every_task_and_stops(backend: tuple[str, dict[str, Any]]) -> None:
    run_on(backend, drains_the_queue_and_stops)


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
def test_a_one_shot_run_with_a_failed_task_says_so(backend: tuple[str, dict[str, Any]]) -> None:
    run_on(backend, one_failure_fails_the_run)


async def test_the_summary_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    emulator = Emulator(seed=7)
    enqueue(emulator, "create", 2)
    enqueue(emulator, "delete", 1)
    with caplog.at_level(logging.INFO, logger="tempest_sdk.runner"):
        async with emulator.serve(), emulator.client() as client:
            await Runner(batch_app(), client, until_idle=True, idle_after=QUIET, **FAST).run()
    (line,) = [r for r in caplog.records if r.getMessage().startswith("one-shot run done")]
    assert line.getMessage() == "one-shot run done: 3 task(s) reported: 2 ok, 1 error"
    assert line.levelno == logging.WARNING
    assert (line.__dict__["ok"], line.__dict__["error"]) == (2, 1)


async def test_the_quiet_period_starts_when_the_last_task_ends() -> None:
    # The first task runs for three quiet periods; the second comes during it: a run
    # that counted the quiet from the first task's fetch would have stopped polling.
    emulator = Emulator(seed=8)
    ids = enqueue(emulator, "create", 1)
    async with emulator.serve(), emulator.client() as client:
        runner = Runner(
            batch_app(slow=QUIET * 3), client, until_idle=True, idle_after=QUIET, **FAST
        )
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await runner.ready()
            await anyio.sleep(QUIET * 2)
            assert runner.in_flight == 1
            ids += enqueue(emulator, "read", 1)
    assert statuses(emulator, ids) == ["ok", "ok"]


async def test_an_empty_queue_stops_after_the_quiet_period() -> None:
    source = FakeSource()
    runner = Runner(FakeApp(), source, until_idle=True, idle_after=0.05, **FAST)
    started = anyio.current_time()
    with anyio.fail_after(10):
        await runner.run()
    assert anyio.current_time() - started >= 0.05
    assert (runner.ok_reports, runner.error_reports, runner.failed) == (0, 0, False)


async def test_failing_polls_are_not_an_empty_queue() -> None:
    # 40 failed `next` calls in a row last far longer than the quiet period: a run that
    # took them for an empty queue would stop before the task behind them.
    source = FakeSource()
    errors = [InternalServerError("503", endpoint="/next", status_code=503)] * 40
    source.push("shop", "v1", None, *errors, make_task("late"))
    runner = Runner(FakeApp(), source, until_idle=True, idle_after=0.02, **FAST)
    with anyio.fail_after(30):
        await runner.run()
    assert source.acked_ids() == ["late"]
    assert runner.ok_reports == 1


async def test_a_shutdown_still_stops_a_one_shot_run() -> None:
    runner = Runner(FakeApp(), FakeSource(), until_idle=True, idle_after=3600.0, **FAST)
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        await runner.ready()
        with anyio.fail_after(10):
            await runner.shutdown()
    assert runner.state == "stopped"


def test_the_options_and_their_variables() -> None:
    assert options_from_env({}).until_idle is False
    assert options_from_env({}).idle_after == 10.0
    read = options_from_env({"TEMPEST_RUNNER_UNTIL_IDLE": "1", "TEMPEST_RUNNER_IDLE_AFTER": "45"})
    assert (read.until_idle, read.idle_after) == (True, 45.0)
    with pytest.raises(RunnerConfigError, match="TEMPEST_RUNNER_UNTIL_IDLE='maybe'"):
        options_from_env({"TEMPEST_RUNNER_UNTIL_IDLE": "maybe"})
    with pytest.raises(RunnerConfigError, match="idle_after must be a number of seconds above 0"):
        options_from_env(idle_after=0)
    with pytest.raises(RunnerConfigError, match="until_idle must be True or False"):
        options_from_env(until_idle="yes")


# -- run() standalone: its exit status ---------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=9).serve_in_thread() as served:
        assert served.url.startswith("http://127.0.0.1:")
        yield served


def run_once(emulator: Emulator) -> None:
    assert threading.current_thread() is threading.main_thread()
    run(
        batch_app(),
        endpoint=emulator.url,
        token=emulator.token,
        until_idle=True,
        idle_after=QUIET,
        **FAST,
    )


def test_run_until_idle_returns_when_every_task_is_ok(emulator: Emulator) -> None:
    ids = enqueue(emulator, "create", N)
    run_once(emulator)
    assert statuses(emulator, ids) == ["ok"] * N


def test_run_until_idle_exits_1_when_a_task_failed(emulator: Emulator) -> None:
    ids = enqueue(emulator, "create", N - 1) + enqueue(emulator, "delete", 1)
    with pytest.raises(SystemExit) as exited:
        run_once(emulator)
    assert exited.value.code == 1
    assert len(statuses(emulator, ids)) == N
