"""Commands that talk to a control plane, run against a real emulator on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tempest_sdk.emulator import Emulator

from .conftest import APPS

SHOP_V1 = str(APPS / "shop_v1.py")


@pytest.fixture
def emulator():
    with Emulator(token="cli-test-token").serve_in_thread() as emu:
        yield emu


def _env(emulator: Emulator, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    env.update(
        NO_COLOR="1",
        TEMPEST_TOKEN=token or emulator.token,
        TEMPEST_API_ENDPOINT=emulator.url,
    )
    return env


def _run(*args: str, env: dict[str, str], cwd, timeout: float = 60.0):
    return subprocess.run(
        [sys.executable, "-m", "tempest_sdk", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_connect_yes_sends_the_describe_payload(emulator, tmp_path):
    result = _run("connect", SHOP_V1, "--yes", env=_env(emulator), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Connecting to {emulator.url}" in result.stdout
    assert "Connected shop v1." in result.stdout
    assert "/apps/shop/v1" in result.stdout  # the app's URL from the answer
    (payload,) = emulator.connects
    described = _run("describe", SHOP_V1, "--json", env=_env(emulator), cwd=tmp_path)
    assert payload == json.loads(described.stdout)
    assert emulator.violations == []


def test_connect_with_rejected_token_says_how_to_fix(emulator, tmp_path):
    result = _run("connect", SHOP_V1, "--yes", env=_env(emulator, token="wrong"), cwd=tmp_path)
    assert result.returncode != 0
    assert "TEMPEST_TOKEN" in result.stderr
    assert "wrong" not in result.stderr.replace("wrong token", "")
    assert emulator.connects == []


@pytest.mark.parametrize(
    ("flags", "env"), [(["--connect"], {}), ([], {"TEMPEST_RUNNER_CONNECT": "1"})]
)
def test_serve_runs_until_sigterm_and_reports_tasks(emulator, tmp_path, flags, env):
    task_id = emulator.enqueue_operation("shop", "v1", "order", "create", input={"item": "kiwi"})
    process = subprocess.Popen(
        [sys.executable, "-m", "tempest_sdk", "serve", SHOP_V1, *flags],
        env={**_env(emulator), **env},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        emulator.wait_for_reports(1, timeout=30)
        (report,) = emulator.reports(task_id)
        assert report["status"] == "ok", report
        assert len(emulator.connects) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert emulator.violations == []


def test_serve_with_rejected_token_exits_non_zero_with_fix(emulator, tmp_path):
    result = _run("serve", SHOP_V1, env=_env(emulator, token="not-the-token"), cwd=tmp_path)
    assert result.returncode != 0
    assert "TEMPEST_TOKEN" in result.stderr
    assert "not-the-token" not in result.stdout + result.stderr


def test_emulator_command_prints_url_and_token_and_stops_on_sigint(tmp_path):
    from tempest_sdk.client import TempestClient

    with (
        (tmp_path / "stderr.txt").open("w+") as errors,
        subprocess.Popen(
            [sys.executable, "-m", "tempest_sdk", "emulator", "--token", "standalone-token"],
            env={**os.environ, "NO_COLOR": "1"},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None
        try:
            first = process.stdout.readline()
            assert first.startswith("Tempest emulator listening at http://127.0.0.1:")
            url = first.rsplit(" ", 1)[-1].strip()
            with TempestClient(token="standalone-token", endpoint=url, max_retries=0) as client:
                assert client.next_task("shop", "v1") is None
        finally:
            process.send_signal(signal.SIGINT)
            # Read through the same text wrapper as readline(): it may have buffered ahead.
            rest = process.stdout.read()
            process.wait(timeout=30)
        errors.seek(0)
        assert process.returncode == 0, errors.read()
    assert "export TEMPEST_TOKEN=standalone-token" in first + rest
    assert "Stopped after" in rest
