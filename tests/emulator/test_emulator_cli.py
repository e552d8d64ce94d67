"""The emulator standalone: `python -m tempest_sdk.emulator` / `tempest_sdk.emulator.main`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pytest

from tempest_sdk.emulator import Emulator, main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")


def test_serves_until_interrupted_and_prints_a_summary():
    command = [
        sys.executable, "-m", "tempest_sdk.emulator", "--token", "dev-token", "--seed", "1",
        "--enqueue", "helloworld/v1:create:example",
        "--enqueue", "helloworld/v1:action:example:rebuild:ex-1",
        "--enqueue", "helloworld/v1:list:example",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(5)]
        url = banner[0].split(" at ")[1].strip()
        answer = httpx.post(
            f"{url}/apps.operations.next",
            json={"app_id": "helloworld", "version": "v1"},
            headers={"authorization": "Bearer dev-token"},
            timeout=10,
        )
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait(timeout=10)

    assert process.returncode == 0, err
    assert banner[0].startswith("Tempest emulator listening at http://127.0.0.1:")
    assert banner[2].strip() == f"export TEMPEST_API_ENDPOINT={url}"
    assert banner[3].strip() == "export TEMPEST_TOKEN=dev-token"
    assert answer.status_code == 200
    assert json.loads(answer.content)["task"]["operation"] == "create"
    assert "Stopped after 1 requests: 0 tasks reported, 2 queued, 1 leased" in out


@pytest.mark.parametrize(
    "spec", ["helloworld:create:example", "helloworld/v1:list", "helloworld/v1:list:a:b"]
)
def test_a_bad_enqueue_spec_is_a_usage_error(spec, capsys):
    assert main(["--enqueue", spec]) == 2

    assert f"--enqueue {spec!r}" in capsys.readouterr().err


def test_a_bad_operation_is_a_usage_error(capsys):
    assert main(["--enqueue", "helloworld/v1:destroy:example"]) == 2

    assert "unknown operation 'destroy'" in capsys.readouterr().err


def test_a_busy_port_is_an_error(capsys):
    with Emulator().serve_in_thread() as busy:
        port = busy.url.split(":")[2].split("/")[0]

        assert main(["--port", port]) == 1

    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
