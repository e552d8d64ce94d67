"""The FastAPI recipe of docs/runner.md (docs_src/running/fastapi_service.py), served by a
real `uvicorn` process on uvloop and on plain asyncio, against the emulator on loopback:
it starts, serves tasks, and drains the tasks in flight when SIGTERM arrives."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tempest_sdk.emulator import Emulator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APP = "docs_src.running.fastapi_service:api"
APP_ID, VERSION = "greetings", "v1"
# As in docs/runner.md: uvicorn waits this long for open requests, then ends the lifespan.
GRACEFUL_SHUTDOWN = "3"


@dataclass
class Service:
    """A uvicorn process serving the recipe, and where its output goes."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def get(self, path: str) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read())
        finally:
            connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_serving(emulator: Emulator, loop: str, tmp_path: Path) -> Iterator[Service]:
    """Run `uvicorn` on the recipe against `emulator`; the process is always killed at the end."""
    if loop == "uvloop":
        pytest.importorskip("uvloop", reason="uvloop is not installed")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPEST_", "UVICORN_"))  # TEMPEST_TOKEN_FILE would win
    }
    env |= {
        "TEMPEST_API_ENDPOINT": emulator.url,
        "TEMPEST_TOKEN": emulator.token,
        # Idle polls stay frequent, so tasks enqueued after the start are picked up at once.
        "TEMPEST_RUNNER_POLL_INTERVAL_MAX": "0.2",
        "TEMPEST_RUNNER_SHUTDOWN_GRACE": "20",
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        APP,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        loop,
        "--timeout-graceful-shutdown",
        GRACEFUL_SHUTDOWN,
    ]
    log = tmp_path / f"uvicorn-{loop}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    service = Service(process, port, log)
    try:
        yield service
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], what: str, service: Service, timeout: float) -> None:
    """Wait until `condition()` holds; fail with `what` and uvicorn's output otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if service.process.poll() is not None:
            raise AssertionError(
                f"uvicorn exited ({service.process.returncode}) while waiting for {what}:\n"
                + service.tail()
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}:\n" + service.tail()
            )
        time.sleep(0.02)


def wait_until_ready(service: Service) -> Any:
    answers: list[tuple[int, Any]] = []

    def ready() -> bool:
        try:
            answers.append(service.get("/ready"))
        except OSError:  # not listening yet
            return False
        return True

    wait_for(ready, "uvicorn to answer GET /ready", service, timeout=30)
    return answers[-1]


def stop(service: Service) -> int:
    """Send SIGTERM and wait (bounded) for the process to end; return its exit status."""
    service.process.send_signal(signal.SIGTERM)
    try:
        return service.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            "uvicorn did not exit within 40s of SIGTERM:\n" + service.tail()
        ) from None


def assert_stopped_gracefully(service: Service, status: int) -> None:
    output = service.output()
    # uvicorn >= 0.29 raises the signal it caught again once its graceful shutdown is
    # over, so a SIGTERM ends the process with that signal's status (earlier: 0).
    assert status in (0, -signal.SIGTERM), f"exit status {status}:\n{service.tail()}"
    assert "Application shutdown complete." in output, service.tail()
    assert "Traceback" not in output, service.tail()


LOOPS = ["uvloop", "asyncio"]


@pytest.mark.parametrize("loop", LOOPS)
def test_the_recipe_starts_and_serves_tasks(loop: str, tmp_path: Path) -> None:
    emulator = Emulator(seed=31)
    with emulator.serve_in_thread(), uvicorn_serving(emulator, loop, tmp_path) as service:
        assert wait_until_ready(service) == (200, {"runner": "running"})
        names = ["Ada", "Grace", "Linus"]
        created = {
            emulator.enqueue_operation(APP_ID, VERSION, "greeting", "create", input={"name": n}): n
            for n in names
        }
        paused = emulator.enqueue_action(
            APP_ID, VERSION, "greeting", "pause", external_id="greeting-ada", input={"seconds": 0}
        )
        wait_for(
            lambda: len(emulator.reported(APP_ID, VERSION)) == 4,
            "4 reported tasks",
            service,
            timeout=15,
        )
        assert_stopped_gracefully(service, stop(service))
    for task_id, name in created.items():
        [report] = emulator.reports(task_id)
        assert report["status"] == "ok", report
        resource = report["response"]["resource"]
        assert resource["external_id"] == f"greeting-{name.lower()}"
        assert resource["properties"] == {"text": f"Hello, {name}!"}
    [report] = emulator.reports(paused)
    assert report["status"] == "ok", report
    assert report["response"]["output"] == {"seconds": 0}
    assert emulator.violations == []


@pytest.mark.parametrize("loop", LOOPS)
def test_sigterm_drains_the_tasks_in_flight(loop: str, tmp_path: Path) -> None:
    emulator = Emulator(seed=32)
    with emulator.serve_in_thread(), uvicorn_serving(emulator, loop, tmp_path) as service:
        assert wait_until_ready(service) == (200, {"runner": "running"})
        ids = [
            emulator.enqueue_action(
                APP_ID,
                VERSION,
                "greeting",
                "pause",
                external_id=f"greeting-{i}",
                input={"seconds": 1.5},
            )
            for i in range(6)
        ]
        wait_for(
            lambda: len(emulator.leased(APP_ID, VERSION)) == len(ids),
            "6 tasks handed out and running (leased, not yet reported)",
            service,
            timeout=15,
        )
        # Each task takes 1.5 s, so SIGTERM arrives while they run (and were one already
        # done, the checks below would hold all the same: they hold whatever the timing).
        assert_stopped_gracefully(service, stop(service))
    for task_id in ids:
        reports = emulator.reports(task_id)
        assert len(reports) == 1, (task_id, reports)
        assert reports[0]["status"] == "ok", reports[0]
        assert reports[0]["response"]["output"] == {"seconds": 1.5}
    assert emulator.queued() == []
    assert emulator.violations == []
