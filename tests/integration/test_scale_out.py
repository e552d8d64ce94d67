"""Scale-out: several replicas (`tempest-sdk serve` processes) share one control plane.

Three replicas serve one app version against one emulator on 127.0.0.1, as Kubernetes
would run a Deployment's pods against Tempest. They share nothing but the queue: every
task runs and is reported once, the work spreads over the replicas, a replica stopped
with SIGTERM drains its tasks and exits 0, and the tasks a killed replica held are
handed out again when their lease ends and reported by the others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tempest_sdk.emulator import Emulator

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.name != "posix", reason="signals")]

APP = """
import os
import time
from pathlib import Path

from pydantic import BaseModel

import tempest_sdk as tempest


class Job(BaseModel):
    seconds: float = 0.0


class Done(BaseModel):
    pid: int


app = tempest.App("jobs", "v1")
job = app.resource("job", description="A unit of work.", properties=Done)


@job.create
def create(ctx: tempest.Context, input: Job) -> tempest.Resource:
    # A marker file per running task, so the test can stop a replica while it
    # holds work, without guessing from timing.
    marker = Path(os.environ["JOBS_RUNNING"]) / f"{os.getpid()}-{ctx.task_id}"
    marker.touch()
    try:
        time.sleep(input.seconds)
    finally:
        marker.unlink()
    return tempest.Resource(
        external_id=ctx.task_id, display_name="job", properties=Done(pid=os.getpid())
    )
"""


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Replicas:
    """Replica processes of `tempest-sdk serve app.py` against `emulator`."""

    def __init__(self, emulator: Emulator, folder: Path) -> None:
        self.emulator = emulator
        self.folder = folder
        self.running = folder / "running"
        self.running.mkdir()
        (folder / "app.py").write_text(APP)
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, count: int) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
        env = {
            **base,
            "TEMPEST_TOKEN": self.emulator.token,
            "TEMPEST_RUNNER_CONCURRENCY": "2",
            "TEMPEST_RUNNER_POLL_INTERVAL_MAX": "0.2",
            "TEMPEST_RUNNER_SHUTDOWN_GRACE": "30",
            "JOBS_RUNNING": str(self.running),
        }
        for _ in range(count):
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tempest_sdk", "serve", "app.py", "--endpoint",
                     self.emulator.url, "--log-level", "info"],
                    cwd=self.folder,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )  # fmt: skip

    def holding(self, process: subprocess.Popen[str]) -> list[str]:
        """The tasks `process` is running now."""
        prefix = f"{process.pid}-"
        return [p.name[len(prefix) :] for p in self.running.iterdir() if p.name.startswith(prefix)]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    emulator = Emulator(token="scale-out-token")
    emulator.lease_timeout = 3.0
    with ExitStack() as stack:
        stack.enter_context(emulator.serve_in_thread())
        group = Replicas(emulator, tmp_path)
        stack.callback(group.stop)
        yield group


def enqueue(emulator: Emulator, count: int, seconds: float) -> list[str]:
    return [
        emulator.enqueue_operation("jobs", "v1", "job", "create", input={"seconds": seconds})
        for _ in range(count)
    ]


def reporter(emulator: Emulator, task_id: str) -> int:
    """The pid of the replica whose report was accepted."""
    [report] = emulator.reports(task_id)
    assert report["status"] == "ok", report
    pid: int = report["response"]["resource"]["properties"]["pid"]
    return pid


def test_replicas_share_the_queue_and_each_task_is_reported_once(replicas: Replicas) -> None:
    emulator = replicas.emulator
    replicas.start(3)
    tasks = enqueue(emulator, 30, seconds=0.2)
    wait_for(lambda: len(emulator.reported("jobs", "v1")) == len(tasks), "every report")
    by_replica = Counter(reporter(emulator, task) for task in tasks)
    assert set(by_replica) == {process.pid for process in replicas.processes}, by_replica
    assert all(emulator.deliveries(task) == 1 for task in tasks)
    assert emulator.duplicate_reports == 0 and not emulator.violations


def test_a_replica_stopped_with_sigterm_drains_and_the_others_carry_on(
    replicas: Replicas,
) -> None:
    emulator = replicas.emulator
    replicas.start(3)
    first = replicas.processes[0]
    tasks = enqueue(emulator, 12, seconds=1.0)
    wait_for(lambda: replicas.holding(first), "the first replica to hold a task")
    held = replicas.holding(first)
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr[-2000:]
    # What it held when asked to stop was finished and reported by it.
    assert all(reporter(emulator, task) == first.pid for task in held)
    wait_for(lambda: len(emulator.reported("jobs", "v1")) == len(tasks), "every report")
    assert all(len(emulator.reports(task)) == 1 for task in tasks)
    assert emulator.duplicate_reports == 0 and not emulator.violations
    assert emulator.token not in stderr


def test_the_tasks_of_a_killed_replica_are_handed_out_again_and_reported(
    replicas: Replicas,
) -> None:
    emulator = replicas.emulator
    replicas.start(2)
    doomed, survivor = replicas.processes
    tasks = enqueue(emulator, 6, seconds=1.5)
    wait_for(lambda: replicas.holding(doomed), "the doomed replica to hold a task")
    held = replicas.holding(doomed)
    doomed.kill()  # no drain, no report: as a node that vanished
    doomed.communicate(timeout=30)
    wait_for(lambda: len(emulator.reported("jobs", "v1")) == len(tasks), "every report")
    for task in held:
        assert emulator.deliveries(task) == 2, json.dumps(emulator.reports(task))
        assert reporter(emulator, task) == survivor.pid
    assert emulator.duplicate_reports == 0 and not emulator.violations
