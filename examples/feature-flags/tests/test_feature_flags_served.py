"""The app served for real: `exercise`, `tempest-sdk serve --emulator`, and the FastAPI
service under uvicorn on uvloop, each against a Flagpole and an emulator on 127.0.0.1."""

# pyright: strict

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from feature_flags_harness import APP_ID, EXAMPLE, TOKEN, VERSION, flag_env, free_port
from feature_flags_harness import running_flagpole as flagpole_at
from flags_app import app

from tempest_sdk.emulator import Emulator
from tempest_sdk.testing import exercise

CAPABILITIES = [
    "flag.create",
    "flag.list",
    "flag.read",
    "flag.update",
    "flag.rollout",
    "flag.kill",
    "flag.delete",
    "segment.create",
    "segment.list",
    "segment.read",
    "segment.update",
    "segment.delete",
]


@pytest.fixture(scope="module")
def flagpole() -> Iterator[str]:
    with flagpole_at() as url:
        yield url


def clean_env(**more: str) -> dict[str, str]:
    """This process's environment without what would win over the test's settings."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPEST_", "FLAGS_"))}
    return keep | {"NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1", **more}


def test_exercise_runs_every_capability(monkeypatch: pytest.MonkeyPatch, flagpole: str) -> None:
    flag_env(monkeypatch, flagpole)
    results = anyio.run(exercise, app)
    assert [(r.step.label, r.status) for r in results] == [(c, "ok") for c in CAPABILITIES]


def test_serve_with_the_emulator_reports_every_task_ok(flagpole: str) -> None:
    env = clean_env(FLAGS_URL=flagpole, FLAGS_TOKEN=TOKEN)
    command = [sys.executable, "-m", "tempest_sdk", "serve", "flags_app.py", "--emulator"]
    result = subprocess.run(
        command, cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.findall(r"^(\w+\.\w+)\s+ok\b", result.stdout, re.M) == CAPABILITIES
    assert f"{len(CAPABILITIES)}/{len(CAPABILITIES)} tasks reported ok" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def get(port: int, path: str) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        body: dict[str, str] = json.loads(answer.read())
        return answer.status, body
    finally:
        connection.close()


def wait_until_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"the service exited ({process.returncode}):\n{log.read_text()}")
        try:
            if get(port, "/readyz") == (200, {"runner": "running"}):
                return
        except OSError:
            pass  # not listening yet: the lifespan starts the runner first
        if time.monotonic() > deadline:
            pytest.fail(f"the service never got ready:\n{log.read_text()}")
        time.sleep(0.05)


def test_the_fastapi_service_serves_the_app_under_uvicorn_on_uvloop(
    flagpole: str, tmp_path: Path
) -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed")
    port, log = free_port(), tmp_path / "service.log"
    with Emulator().serve_in_thread() as emulator:
        env = clean_env(
            FLAGS_URL=flagpole,
            FLAGS_TOKEN=TOKEN,
            TEMPEST_API_ENDPOINT=emulator.url,
            TEMPEST_TOKEN=emulator.token,
            TEMPEST_RUNNER_POLL_INTERVAL_MAX="0.2",
        )
        command = [sys.executable, "flags_service.py", "--port", str(port), "--loop", "uvloop"]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command, cwd=EXAMPLE, env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        try:
            wait_until_ready(process, port, log)
            assert get(port, "/livez") == (200, {"status": "ok"})
            create = emulator.enqueue_operation(
                APP_ID, VERSION, "flag", "create", input={"key": "svc-1", "name": "Svc"}
            )
            emulator.wait_for_reports(1, timeout=30)
            rollout = emulator.enqueue_action(
                APP_ID, VERSION, "flag", "rollout", external_id="svc-1", input={"percentage": 5}
            )
            listing = emulator.enqueue_list(APP_ID, VERSION, "flag")
            emulator.wait_for_reports(3, timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    output = log.read_text()
    assert code == 0, output
    assert "event loop: uvloop" in output
    assert emulator.reports(create)[0]["status"] == "ok"
    assert emulator.reports(rollout)[0]["response"]["output"]["rollout"] == 5
    (page,) = emulator.reports(listing)
    assert "svc-1" in [r["external_id"] for r in page["response"]["resources"]]
    assert TOKEN not in output
    assert emulator.token not in output
