"""The runner's side of recording: its options, a start that fails clearly, and a disk
that is slow or failing, which drops records and never a task."""

from __future__ import annotations

import errno
import io
import json
import logging
import threading
from pathlib import Path

import anyio
import pytest

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner, RunnerConfigError, RunnerOptions, RunnerStartupError, _record
from tempest_sdk.runner._config import options_from_env

from .apps.notes import build
from .conftest import ENV, OPTIONS, record_run, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_recording_is_off_by_default():
    options = RunnerOptions()
    assert options.record is None
    assert options.record_only is None and options.record_sample == 1.0
    assert options.record_max_bytes == 32 * 2**20 and options.record_files == 4


def test_record_options_from_the_environment_and_keywords(tmp_path):
    options = options_from_env(
        {
            "TEMPEST_RUNNER_RECORD": str(tmp_path / "r.jsonl"),
            "TEMPEST_RUNNER_RECORD_ONLY": "type=note, errors",
            "TEMPEST_RUNNER_RECORD_SAMPLE": "0.25",
            "TEMPEST_RUNNER_RECORD_MAX_BYTES": "2Mi",
            "TEMPEST_RUNNER_RECORD_FILES": "3",
        }
    )
    assert options.record == tmp_path / "r.jsonl"
    assert options.record_only == "status=error,type=note"
    assert options.record_sample == 0.25
    assert options.record_max_bytes == 2 * 2**20 and options.record_files == 3
    given = options_from_env({}, record=str(tmp_path / "x"), record_only=["errors", "kind=list"])
    assert given.record == tmp_path / "x" and given.record_only == "kind=list,status=error"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECORD_SAMPLE", "half", "is not a number"),
        ("RECORD_SAMPLE", "1.5", "record_sample must be a number above 0 and at most 1"),
        ("RECORD_SAMPLE", "0", "record_sample must be a number above 0 and at most 1"),
        ("RECORD_ONLY", "colour=red", "'colour=red' is not a task filter"),
        ("RECORD_MAX_BYTES", "lots", "is not a number of bytes"),
        ("RECORD_FILES", "0", "record_files must be an integer of at least 1"),
    ],
)
def test_bad_record_options_say_what_is_wrong(variable, value, message):
    with pytest.raises(RunnerConfigError, match=message):
        options_from_env({f"TEMPEST_RUNNER_{variable}": value})


def test_a_record_file_that_cannot_be_written_fails_the_start(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    async def scenario():
        emulator = Emulator()
        async with emulator.serve(), emulator.client() as client:
            runner = Runner(build("v1"), client, **OPTIONS, record=blocker / "r.jsonl")
            await runner.run()

    with pytest.raises(RunnerStartupError, match=r"cannot record to '.*not-a-folder/r\.jsonl'"):
        anyio.run(scenario)


def many_creates(count: int):
    def enqueue(emulator: Emulator) -> list[str]:
        return [
            emulator.enqueue_operation(
                "notes",
                "v1",
                "note",
                "create",
                input={"title": f"note {n}"},
                environment_variables=ENV,
            )
            for n in range(count)
        ]

    return enqueue


class Held(io.BytesIO):
    """A disk whose writes wait until `gate` opens."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate
        self.lines = 0

    def write(self, data) -> int:  # type: ignore[override]
        self.gate.wait(30)
        self.lines += data.count(b"\n")
        return super().write(data)

    def fileno(self) -> int:
        raise io.UnsupportedOperation


def test_a_slow_disk_drops_records_and_never_a_task(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk.runner")
    gate = threading.Event()
    disks: list[Held] = []

    def opener(path: Path) -> Held:
        disks.append(Held(gate))
        return disks[-1]

    monkeypatch.setattr(_record, "_append", opener)
    monkeypatch.setattr(_record, "QUEUE_RECORDS", 8)
    ids: list[str] = []

    async def scenario():
        emulator = Emulator()
        async with emulator.serve(), emulator.client() as client:
            ids.extend(many_creates(200)(emulator))
            runner = Runner(build("v1"), client, **OPTIONS, record=tmp_path / "r.jsonl")
            async with runner:
                await wait_until(lambda: set(ids) <= set(emulator.reported()), "200 reports")
                # Every task served and reported while the disk held everything.
                assert all(emulator.reports(i)[0]["status"] == "ok" for i in ids)
                assert runner.sample().records_dropped >= 200 - 8 - 1
                gate.set()
            return runner

    runner = anyio.run(scenario)
    sample = runner.sample()
    assert sample.records_written + sample.records_dropped == 200
    assert sum(disk.lines for disk in disks) == sample.records_written
    warnings = [r for r in caplog.records if "cannot keep up" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


class Full(io.BytesIO):
    def write(self, data) -> int:  # type: ignore[override]
        raise OSError(errno.ENOSPC, "No space left on device")

    def fileno(self) -> int:
        raise io.UnsupportedOperation


def test_a_failing_disk_drops_every_record_and_never_a_task(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(_record, "_append", lambda path: Full())
    emulator, ids, runner = anyio.run(
        lambda: record_run(tmp_path / "r.jsonl", build("v1"), enqueue=many_creates(50))
    )
    assert all(emulator.reports(i)[0]["status"] == "ok" for i in ids)
    assert runner.sample().records_dropped == 50 and runner.sample().records_written == 0
    failures = [r for r in caplog.records if "No space left on device" in r.getMessage()]
    assert len(failures) == 1


@pytest.fixture
def cli(tmp_path):
    from tests.cli.conftest import CLI

    return CLI(tmp_path)


def test_serve_record_on_the_emulator_then_replay(cli, tmp_path):
    helloworld = str(ROOT / "examples" / "helloworld" / "app.py")
    path = tmp_path / "hello.jsonl"
    served = cli("serve", helloworld, "--emulator", "--record", str(path), "--record-files", "2")
    assert served.returncode == 0, served.stdout + served.stderr
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert records and {r["app_id"] for r in records} == {"helloworld"}
    # The emulator's default secret is recorded by name only.
    raw = path.read_text()
    assert "emulator-secret-value" not in raw and '"API_TOKEN"' in raw
    replayed = cli("replay", "--writes", str(path), helloworld, "--secret", "API_TOKEN=anything")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"{len(records)} replayed, {len(records)} match" in replayed.stdout


def test_serve_record_flags_are_checked(cli, tmp_path):
    helloworld = str(ROOT / "examples" / "helloworld" / "app.py")
    bad = cli("serve", helloworld, "--emulator", "--record", "r.jsonl", "--record-max-bytes", "x")
    assert bad.returncode == 2 and "--record-max-bytes 'x' is not a number of bytes" in bad.stderr
    sample = cli("serve", helloworld, "--emulator", "--record", "r.jsonl", "--record-sample", "2")
    assert sample.returncode == 1
    assert "record_sample must be a number above 0 and at most 1" in sample.stderr


def test_the_record_holds_the_task_as_received_even_when_a_handler_changes_it(tmp_path):
    app = tempest.App("notes", "v1")
    note = app.resource("note", description="A note.", properties={"type": "object"})

    @note.read
    async def read(resource: tempest.Resource) -> tempest.Resource:
        # A handler is given the task's resource, and may change it in place.
        resource.display_name = "changed by the handler"
        return resource

    async def scenario() -> str:
        emulator = Emulator()
        async with emulator.serve(), emulator.client() as client:
            task_id = emulator.enqueue_operation(
                "notes", "v1", "note", "read", external_id="n1", display_name="as sent"
            )
            async with Runner(app, client, **OPTIONS, record=tmp_path / "r.jsonl"):
                await emulator.wait_for_reports_async(1)
            assert emulator.reports(task_id)[0]["response"]["resource"]["display_name"] == (
                "changed by the handler"
            )
        return task_id

    task_id = anyio.run(scenario)
    [line] = (tmp_path / "r.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["task_id"] == task_id
    assert record["task"]["task"]["resource"]["display_name"] == "as sent"
    assert record["report"]["response"]["resource"]["display_name"] == "changed by the handler"
