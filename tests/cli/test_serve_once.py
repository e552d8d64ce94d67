"""`tempest-sdk serve --once` against a real emulator on loopback: a one-shot run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tempest_sdk.emulator import Emulator

from .conftest import APPS

SHOP_V1 = str(APPS / "shop_v1.py")
N = 5


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(token="once-test-token").serve_in_thread() as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        yield emu


def _serve_once(emulator: Emulator, cwd: object, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    env.update(NO_COLOR="1", TEMPEST_TOKEN=emulator.token, TEMPEST_API_ENDPOINT=emulator.url)
    return subprocess.run(
        [sys.executable, "-m", "tempest_sdk", "serve", SHOP_V1, *flags],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _orders(emulator: Emulator, count: int) -> list[str]:
    return [
        emulator.enqueue_operation(
            "shop", "v1", operation="create", resource_type="order", input={"item": "kiwi"}
        )
        for _ in range(count)
    ]


def test_serve_once_reports_every_task_and_exits_0(emulator, tmp_path):
    ids = _orders(emulator, N)
    result = _serve_once(emulator, tmp_path, "--once", "--idle-after", "0.5")
    assert result.returncode == 0, result.stderr
    assert [emulator.reports(task_id)[0]["status"] for task_id in ids] == ["ok"] * N
    assert f"one-shot run done: {N} task(s) reported: {N} ok, 0 error" in result.stderr
    assert emulator.violations == []


def test_serve_once_exits_1_when_a_task_failed(emulator, tmp_path):
    ids = _orders(emulator, N - 1)
    ids.append(
        emulator.enqueue_operation(
            "shop", "v1", operation="read", resource_type="order", external_id="missing"
        )
    )
    result = _serve_once(emulator, tmp_path, "--once", "--idle-after", "0.5")
    assert result.returncode == 1, result.stderr
    assert sorted(emulator.reports(task_id)[0]["status"] for task_id in ids) == ["error"] + [
        "ok"
    ] * (N - 1)
    summary = [line for line in result.stderr.splitlines() if "one-shot run done" in line]
    assert len(summary) == 1
    assert summary[0].endswith(f"{N} task(s) reported: {N - 1} ok, 1 error")


def test_the_environment_makes_a_one_shot_run_too(emulator, tmp_path):
    ids = _orders(emulator, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    env.update(
        NO_COLOR="1",
        TEMPEST_TOKEN=emulator.token,
        TEMPEST_API_ENDPOINT=emulator.url,
        TEMPEST_RUNNER_UNTIL_IDLE="1",
        TEMPEST_RUNNER_IDLE_AFTER="0.5",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tempest_sdk", "serve", SHOP_V1],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [emulator.reports(task_id)[0]["status"] for task_id in ids] == ["ok", "ok"]


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--once", "--emulator"], "--once does not go with --emulator"),
        (["--once", "--reload"], "--once does not go with --reload"),
    ],
)
def test_once_refuses_what_never_stops_by_itself(emulator, tmp_path, flags, says):
    result = _serve_once(emulator, tmp_path, *flags)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
