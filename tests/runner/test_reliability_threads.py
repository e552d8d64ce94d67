"""Plain handlers that never return: bounded threads, tokens given back, a prompt exit."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import anyio
import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk._threads import HandlerThread, stuck_threads
from tempest_sdk.emulator import Emulator
from tempest_sdk.models import ReportStatus, TaskReport
from tempest_sdk.runner import Runner

from .fakes import FAST, FakeSource, make_task, wait_until

BACKENDS = ["asyncio", "trio"]
EXHAUSTED = "worker threads for plain handlers are held by handlers that timed out"


class Props(BaseModel):
    color: str = "red"


class Blocking:
    """An app whose plain `create` blocks until `release` is set, counting its threads."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.live = 0
        self.peak = 0
        self._lock = threading.Lock()
        self.app = tempest.App("shop", "v1")
        example = self.app.resource("example", properties=Props)

        @example.create
        def create(ctx: tempest.Context) -> tempest.Resource:
            with self._lock:
                self.started.append(ctx.task_id)
                self.live += 1
                self.peak = max(self.peak, self.live)
            try:
                self.release.wait()  # a backend that does not answer until the test says so
            finally:
                with self._lock:
                    self.live -= 1
            return tempest.Resource(properties={"color": "blue"})

    async def set_free(self) -> None:
        """Let every blocked thread return, and wait until none is left stuck."""
        self.release.set()
        await wait_until(lambda: not stuck_threads(), "the stuck threads to return")


def exhausted_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if EXHAUSTED in r.getMessage()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sync_handlers_that_never_return_keep_the_threads_bounded(backend, caplog):
    """Five waves of tasks at concurrency 2: the two stuck threads keep their tokens,
    so the tasks after them wait (and time out) instead of starting new threads."""
    caplog.set_level(logging.INFO, logger="tempest_sdk")
    blocking = Blocking()

    async def scenario() -> None:
        source = FakeSource()
        source.push("shop", "v1", *(make_task(f"t{i}") for i in range(10)))
        runner = Runner(blocking.app, source, concurrency=2, task_timeout=0.2, **FAST)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(runner.run)
                await runner.ready()
                await wait_until(lambda: len(source.acked) == 10, "10 reports")
                assert blocking.peak == 2
                assert sorted(blocking.started) == ["t0", "t1"]
                stuck = sorted(s.partition(", running for")[0] for s in stuck_threads())
                assert stuck == ["create of 'example' (task t0", "create of 'example' (task t1"]
                await runner.shutdown()
        finally:
            await blocking.set_free()
        assert all(r.status is ReportStatus.ERROR for r in source.acked)
        waited = [r for r in source.acked if "waiting for a free worker thread" in str(r)]
        assert len(waited) == 8

    anyio.run(scenario, backend=backend)
    (record,) = exhausted_records(caplog)  # once for the episode, not once per waiting task
    assert record.levelno == logging.ERROR
    assert record.name == "tempest_sdk.app"
    message = record.getMessage()
    assert "create of 'example' (task t0, running for" in message
    assert "create of 'example' (task t1, running for" in message


@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_come_back_when_the_stuck_threads_return_and_waiting_tasks_run(backend, caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk")
    blocking = Blocking()

    async def scenario() -> None:
        limiter = anyio.CapacityLimiter(2)
        reports: dict[str, TaskReport] = {}

        async def dispatch(task_id: str, timeout: float | None) -> None:
            task = make_task(task_id)
            reports[task_id] = await blocking.app.dispatch(
                task, timeout=timeout, thread_limiter=limiter
            )

        try:
            # Cancelled once surely started (a timeout cancels the same way): the tasks
            # end, their threads run on.
            async with anyio.create_task_group() as group:
                group.start_soon(dispatch, "stuck-1", None)
                group.start_soon(dispatch, "stuck-2", None)
                await wait_until(lambda: len(blocking.started) == 2, "2 handlers started")
                group.cancel_scope.cancel()
            assert reports == {}
            assert limiter.borrowed_tokens == 2  # held by the two abandoned threads
            assert len(stuck_threads()) == 2
            async with anyio.create_task_group() as group:
                group.start_soon(dispatch, "waits-1", None)
                group.start_soon(dispatch, "waits-2", None)
                await wait_until(lambda: limiter.statistics().tasks_waiting == 2, "2 tasks waiting")
                assert sorted(blocking.started) == ["stuck-1", "stuck-2"]
                blocking.release.set()
            assert [reports[t].status for t in ("waits-1", "waits-2")] == [ReportStatus.OK] * 2
            await wait_until(lambda: limiter.borrowed_tokens == 0, "every token back")
        finally:
            await blocking.set_free()

    anyio.run(scenario, backend=backend)
    assert sorted(blocking.started[2:]) == ["waits-1", "waits-2"]
    assert "(task stuck-1) returned" in caplog.text


SCRIPT = """
import logging
import sys
import threading
from pathlib import Path

from pydantic import BaseModel

import tempest_sdk as tempest


class Props(BaseModel):
    color: str = "red"


app = tempest.App("stuck", "v1")
widget = app.resource("widget", properties=Props)


@widget.create
def create() -> tempest.Resource:
    Path(sys.argv[1]).touch()
    threading.Event().wait()  # a backend that never answers
    raise AssertionError("unreachable")


logging.basicConfig(level=logging.INFO)
app.run(connect=True, shutdown_grace={grace}, flush_timeout={flush}, poll_interval_max=0.2)
"""


@pytest.mark.integration
def test_a_standalone_run_exits_on_sigterm_without_waiting_for_stuck_threads(tmp_path):
    grace = flush = 0.5
    script = tmp_path / "stuck_app.py"
    script.write_text(textwrap.dedent(SCRIPT).format(grace=grace, flush=flush))
    started = tmp_path / "handler-started"
    errors = tmp_path / "stderr.txt"
    with Emulator(token="threads-token").serve_in_thread() as emulator:
        task_id = emulator.enqueue_operation("stuck", "v1", "widget", "create", input={})
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
        env |= {
            "TEMPEST_API_ENDPOINT": emulator.url,
            "TEMPEST_TOKEN": emulator.token,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        with errors.open("w") as sink:
            process = subprocess.Popen(
                [sys.executable, str(script), str(started)],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        try:
            _wait_for_file(started, process, errors)
            process.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            # The handler never returns: without the exit, the process would wait forever.
            status = process.wait(timeout=grace + flush + 30)
            took = time.monotonic() - stopped
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        output = errors.read_text()
        assert status == 0, output
        assert took < grace + flush + 30
        assert "exiting without waiting for 1 handler thread(s)" in output, output
        assert f"create of 'widget' (task {task_id}, running for" in output, output
        (report,) = emulator.reports(task_id)
        assert report["status"] == "error", report


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], errors: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the app exited ({process.returncode}):\n{errors.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the handler did not start:\n{errors.read_text()}")
        time.sleep(0.02)


def test_a_thread_that_returns_after_its_event_loop_stopped_leaves_at_once():
    """A plain handler abandoned by a timeout returns while its event loop has stopped
    but is not closed yet (a run ending). Its thread used to wait for that loop forever
    to give its token back, and so kept the interpreter from exiting."""
    release = threading.Event()
    since = time.monotonic()

    async def abandon() -> None:
        thread = HandlerThread("create of 'example'", "t-late", anyio.CapacityLimiter(1))
        with anyio.move_on_after(0.05):
            await thread.run(release.wait)
        assert stuck_threads(since)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(abandon())
        release.set()  # the loop is stopped, and not closed
        deadline = time.monotonic() + 5.0
        while stuck_threads(since) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stuck_threads(since) == []
    finally:
        loop.close()
