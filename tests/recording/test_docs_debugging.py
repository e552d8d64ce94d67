"""The samples of docs/debugging.md: record with the real runner against the emulator on
127.0.0.1, replay before and after the fix, and the regression test as copied."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tempest_sdk.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "docs_src" / "debugging"
PAGE = ROOT / "docs" / "debugging.md"
HELPDESK = "hd-prod-3f9a7c21"

pytestmark = pytest.mark.integration


def test_the_page_includes_the_samples_and_is_in_the_nav():
    page = PAGE.read_text("utf-8")
    included = re.findall(r'--8<-- "(docs_src/debugging/[\w.]+)"', page)
    assert included == [
        "docs_src/debugging/record.py",
        "docs_src/debugging/tickets.py",
        "docs_src/debugging/tickets_fixed.py",
        "docs_src/debugging/test_tickets.py",
    ]
    assert "Debugging production tasks: debugging.md" in (ROOT / "mkdocs.yml").read_text()


def replay(cwd: Path, recording: Path, app: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tempest_sdk",
            "replay",
            "--writes",
            str(recording),
            str(SAMPLES / app),
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_record_replay_fix_replay(tmp_path):
    emulator = Emulator()
    with emulator.serve_in_thread():
        secret = [{"name": "HELPDESK_TOKEN", "value": HELPDESK, "type": "secret"}]
        failing = emulator.enqueue_operation(
            "tickets",
            "v1",
            "ticket",
            "create",
            input={"title": "Printer on fire", "severity": "urgent"},
            environment_variables=secret,
        )
        emulator.enqueue_operation(
            "tickets",
            "v1",
            "ticket",
            "create",
            input={"title": "VPN is slow", "severity": "normal"},
            environment_variables=secret,
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")},
            "TEMPEST_API_ENDPOINT": emulator.url,
            "TEMPEST_TOKEN": emulator.token,
        }
        with subprocess.Popen(
            [sys.executable, str(SAMPLES / "record.py")],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                emulator.wait_for_reports(2, timeout=60)
            finally:
                process.send_signal(signal.SIGTERM)
                _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert emulator.violations == []
    recording = tmp_path / "tickets-errors.jsonl"
    raw = recording.read_text()
    assert HELPDESK not in raw and HELPDESK not in stderr
    (line,) = raw.splitlines()  # the failing task only
    record = json.loads(line)
    assert record["task_id"] == failing and record["status"] == "error"
    # The recording shown in the docs and used by the regression test is such a line.
    (kept,) = (SAMPLES / "recordings" / "tickets-errors.jsonl").read_text().splitlines()
    assert _without_ids(json.loads(kept)) == _without_ids(record)

    before = replay(tmp_path, recording, "tickets.py", "--secret", "HELPDESK_TOKEN=test-token")
    assert before.returncode == 0, before.stdout + before.stderr
    assert "1 replayed, 1 match" in before.stdout
    assert "KeyError: 'urgent'" in before.stderr  # the failure, again, on this machine

    after = replay(tmp_path, recording, "tickets_fixed.py", "--secret", "HELPDESK_TOKEN=t")
    assert after.returncode == 1, after.stdout + after.stderr
    assert "Replaying tasks recorded by tickets v1 against v2" in after.stdout
    assert "1 replayed, 0 match, 1 differ" in after.stdout
    assert "-  \"message\": \"create of 'ticket' failed: KeyError: 'urgent'\"," in after.stdout
    assert '+        "queue": "on-call",' in after.stdout


def _without_ids(record: dict) -> dict:
    record = json.loads(json.dumps(record))
    for key in ("task_id", "started_at", "duration", "sdk"):
        record.pop(key)
    record["task"].pop("task_id")
    record["task"]["task"]["resource"].pop("id", None)
    record["report"].pop("task_id")
    return record


def test_the_regression_test_passes_as_copied():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SAMPLES / "test_tickets.py"),
            "-c",
            str(SAMPLES / "pytest.ini"),
            "--rootdir",
            str(SAMPLES),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:asyncio",
            "-W",
            "error",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_regression_test_fails_against_the_buggy_app(tmp_path):
    """It can fail: against v1, the recorded failure happens again."""
    test = (SAMPLES / "test_tickets.py").read_text().replace("tickets_fixed", "tickets")
    (tmp_path / "test_buggy.py").write_text(
        test.replace("HERE = Path(__file__).parent", f"HERE = Path({str(SAMPLES)!r})")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path / "test_buggy.py"),
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(SAMPLES)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "KeyError: 'urgent'" in result.stdout
