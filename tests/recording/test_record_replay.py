"""Record a run of the real runner against the emulator, then replay it: the same app
matches (exit 0), a changed handler differs (exit 1, with a diff); no secret given to
the tasks reaches the file."""

from __future__ import annotations

import json
import sys

import anyio
import pytest

from tempest_sdk.testing import Comparison, areplay, replay

from .apps.notes import build
from .conftest import OTP, PASSPHRASE, SECRET, encodings, record_run

pytestmark = pytest.mark.integration

APPS = __import__("pathlib").Path(__file__).parent / "apps"


def recorded(tmp_path, backend: str = "asyncio", **options):
    path = tmp_path / "tasks.jsonl"

    async def scenario():
        return await record_run(path, build("v1"), **options)

    emulator, ids, runner = anyio.run(scenario, backend=backend)
    return path, emulator, ids, runner


def diff_lines(text: str) -> set[str]:
    return {line.replace(" ", "") for line in text.splitlines()}


def check_recording(path, emulator, ids, runner):
    lines = path.read_bytes().splitlines()
    assert len(lines) == len(ids) == 6
    records = [json.loads(line) for line in lines]
    assert sorted(r["task_id"] for r in records) == sorted(ids)
    assert runner.sample().records_written == 6 and runner.sample().records_dropped == 0
    for record in records:
        # The report recorded is the report the emulator received.
        assert [record["report"]] == emulator.reports(record["task_id"])
        assert record["app_id"] == "notes" and record["version"] == "v1"
        assert record["duration"] >= 0 and record["started_at"].endswith("Z")
    by_status = sorted(r["status"] for r in records)
    assert by_status == ["error", "error", "ok", "ok", "ok", "ok"]


def test_a_recorded_run_holds_every_task_and_the_report_sent(tmp_path):
    check_recording(*recorded(tmp_path))


def test_no_secret_given_to_the_recorded_tasks_reaches_the_file(tmp_path):
    path, *_ = recorded(tmp_path)
    raw = path.read_bytes()
    for value in (SECRET, OTP, PASSPHRASE):
        for form in encodings(value):
            assert form not in raw, form
    # The handler did get them: its error message quoted both (masked in the report).
    failed = next(json.loads(line) for line in raw.splitlines() if b'"title":"fail"' in line)
    assert failed["report"]["message"] == (
        "create of 'note' failed: RuntimeError: refused with key ********** and code **********"
    )
    variables = {v["name"]: v for v in failed["task"]["task"]["environment_variables"]}
    assert variables["API_KEY"] == {"name": "API_KEY", "value": "**********", "type": "secret"}
    assert variables["REGION"]["value"] == "eu-west-1"


def test_the_same_app_replays_with_every_report_matching(tmp_path):
    path, *_ = recorded(tmp_path)
    results = replay(path, build("v1"), secrets={"API_KEY": SECRET}, writes=True)
    assert [r.status for r in results] == ["match"] * 6
    assert all(isinstance(r, Comparison) and r.matches and r.diff == "" for r in results)


def test_a_changed_handler_is_caught_with_a_diff(tmp_path):
    path, *_ = recorded(tmp_path)
    # A newer version of the app replays a recording of the older one.
    results = replay(path, build("v2", changed=True), secrets={"API_KEY": SECRET}, writes=True)
    differing = [r for r in results if not r.matches]
    assert len(differing) == 1
    (changed,) = differing
    assert changed.subject is not None and changed.subject.describe() == "create note"
    assert changed.recorded_version == "v1"
    assert diff_lines(changed.diff) >= {'-"words":2', '+"words":11'}
    assert changed.diff.startswith("--- recorded (line ")


def test_replay_on_trio(tmp_path):
    path, emulator, ids, runner = recorded(tmp_path, backend="trio")
    check_recording(path, emulator, ids, runner)

    async def again():
        return await areplay(path, build("v1"), secrets={"API_KEY": SECRET}, writes=True)

    results = anyio.run(again, backend="trio")
    assert [r.status for r in results] == ["match"] * 6


def test_recording_on_uvloop(tmp_path):
    pytest.importorskip("uvloop", reason="uvloop is not installed")
    path = tmp_path / "tasks.jsonl"

    async def scenario():
        return await record_run(path, build("v1"))

    emulator, ids, runner = anyio.run(
        scenario, backend="asyncio", backend_options={"use_uvloop": True}
    )
    check_recording(path, emulator, ids, runner)


def test_the_cli_replays_with_exit_0_then_1_with_a_diff(tmp_path, cli):
    path, *_ = recorded(tmp_path)
    same = cli("replay", "--writes", str(path), str(APPS / "notes_v1.py"), env={"API_KEY": SECRET})
    assert same.returncode == 0, same.stdout + same.stderr
    assert "6 replayed, 6 match" in same.stdout
    assert "not compared: task_id" in same.stdout

    changed = cli(
        "replay", "--writes", str(path), str(APPS / "notes_v2.py"), "--secret", f"API_KEY={SECRET}"
    )
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "Replaying tasks recorded by notes v1 against v2" in changed.stdout
    assert "6 replayed, 5 match, 1 differ" in changed.stdout
    assert diff_lines(changed.stdout) >= {'-"words":2', '+"words":11'}
    for output in (same, changed):
        for form in encodings(SECRET):
            assert form.decode() not in output.stdout + output.stderr


def test_recording_only_errors(tmp_path):
    path, *_ = recorded(tmp_path, record_only="errors")
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert sorted(r["name"] for r in records) == ["create", "read"]
    assert {r["status"] for r in records} == {"error"}


def test_sampling_records_a_share(tmp_path):
    import random

    from tempest_sdk.runner import _record

    path = tmp_path / "tasks.jsonl"
    picks = iter([0.9, 0.1, 0.9, 0.1, 0.9, 0.1])

    class Fixed(random.Random):
        def random(self) -> float:
            return next(picks)

    original = _record.Recorder.__init__

    def with_fixed(self, writer, *, only=None, sample=1.0, rng=None):
        original(self, writer, only=only, sample=sample, rng=Fixed())

    mp = pytest.MonkeyPatch()
    mp.setattr(_record.Recorder, "__init__", with_fixed)
    try:
        anyio.run(lambda: record_run(path, build("v1"), record_sample=0.5, concurrency=1))
    finally:
        mp.undo()
    assert len(path.read_bytes().splitlines()) == 3


@pytest.fixture
def cli(tmp_path):
    from tests.cli.conftest import CLI

    return CLI(tmp_path)


if sys.platform == "win32":  # pragma: no cover
    pytestmark = [pytestmark, pytest.mark.skip(reason="POSIX paths")]
