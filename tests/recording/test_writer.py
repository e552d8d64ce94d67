"""The record writer: rotation keeps its bound, a slow or failing disk drops records
(counted, one warning per episode) and never blocks the caller."""

from __future__ import annotations

import errno
import io
import logging
import threading
from pathlib import Path

import pytest

from tempest_sdk.runner._record import RecordWriter


def line(n: int, size: int = 100) -> bytes:
    body = f'{{"n": {n}, "pad": "'.encode()
    return body + b"x" * (size - len(body) - 3) + b'"}\n'


def numbers(path: Path) -> list[int]:
    import json

    return [json.loads(raw)["n"] for raw in path.read_bytes().splitlines()]


def test_rotation_keeps_files_within_their_bound_and_the_newest_records(tmp_path):
    path = tmp_path / "tasks.jsonl"
    writer = RecordWriter(path, max_bytes=1000, files=3)
    writer.open()
    for n in range(95):
        assert writer.submit(lambda n=n: line(n))
    writer.close()
    assert writer.written == 95 and writer.dropped == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "tasks.jsonl",
        "tasks.jsonl.1",
        "tasks.jsonl.2",
    ]
    for kept in tmp_path.iterdir():
        assert kept.stat().st_size <= 1000
    # Newest first: the current file, then .1, then .2; nothing lost in between.
    kept = numbers(tmp_path / "tasks.jsonl.2") + numbers(tmp_path / "tasks.jsonl.1")
    kept += numbers(path)
    assert kept == list(range(95 - len(kept), 95))
    assert len(kept) >= 25  # at least two full files of ten and the current one


def test_one_file_kept_starts_over(tmp_path):
    path = tmp_path / "tasks.jsonl"
    writer = RecordWriter(path, max_bytes=500, files=1)
    writer.open()
    for n in range(12):
        writer.submit(lambda n=n: line(n))
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.jsonl"]
    assert numbers(path) == [10, 11]


def test_a_file_left_by_an_earlier_run_is_appended_to_and_rotated(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(line(-1) * 9)
    writer = RecordWriter(path, max_bytes=1000, files=2)
    writer.open()
    writer.submit(lambda: line(0))
    writer.submit(lambda: line(1))
    writer.close()
    assert numbers(path.with_name("tasks.jsonl.1")) == [-1] * 9 + [0]
    assert numbers(path) == [1]


def test_a_record_larger_than_a_file_is_dropped(tmp_path, caplog):
    writer = RecordWriter(tmp_path / "r.jsonl", max_bytes=150, files=2)
    writer.open()
    writer.submit(lambda: line(0, size=400))
    writer.submit(lambda: line(1))
    writer.close()
    assert writer.written == 1 and writer.dropped == 1
    assert "a record of 400 bytes exceeds record_max_bytes" in caplog.text


def test_a_file_that_cannot_be_opened_fails_at_start(tmp_path):
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(IsADirectoryError):
        RecordWriter(tmp_path / "a-folder").open()


class KeptFile(io.BytesIO):
    """A file in memory whose content outlives its closing."""

    saved = b""

    def close(self) -> None:
        if not self.closed:
            self.saved = self.getvalue()
        super().close()

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no file")


class SlowFile(KeptFile):
    """A disk that takes `delay` seconds a write, until `fast` is set."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate

    def write(self, data) -> int:  # type: ignore[override]
        self.gate.wait(10)
        return super().write(data)


def slow_writer(tmp_path: Path, gate: threading.Event) -> tuple[RecordWriter, list[SlowFile]]:
    """A writer queueing 4 records, whose files hold each write until `gate` is set."""
    files: list[SlowFile] = []

    def opener(path: Path) -> SlowFile:
        files.append(SlowFile(gate))
        return files[-1]

    return RecordWriter(tmp_path / "r.jsonl", queue_size=4, opener=opener), files


def test_a_slow_disk_drops_records_with_one_warning_per_episode(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk.runner")
    gate = threading.Event()
    writer, files = slow_writer(tmp_path, gate)
    writer.open()
    # The disk holds the first write: the queue fills, then every record is dropped,
    # at once (submit never waits).
    accepted = [writer.submit(lambda n=n: line(n)) for n in range(50)]
    assert accepted[:4] == [True] * 4
    assert accepted.count(False) >= 45
    warnings = [r for r in caplog.records if "cannot keep up" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    gate.set()  # the disk recovers
    deadline = threading.Event()
    for _ in range(200):
        if writer.pending == 0 and "caught up" in caplog.text:
            break
        deadline.wait(0.01)
    assert "caught up" in caplog.text
    # A second episode gets its own warning.
    gate.clear()
    for n in range(50, 70):
        writer.submit(lambda n=n: line(n))
    gate.set()
    writer.close()
    warnings = [r for r in caplog.records if "cannot keep up" in r.getMessage()]
    assert len(warnings) == 2
    assert writer.written + writer.dropped == 70
    assert writer.dropped >= 45 + 10
    assert numbers_of(files[-1]) == sorted(numbers_of(files[-1]))


def numbers_of(file: KeptFile) -> list[int]:
    import json

    data = file.saved if file.closed else file.getvalue()
    return [json.loads(raw)["n"] for raw in data.splitlines()]


class FullDisk(KeptFile):
    def __init__(self, state: dict[str, bool]) -> None:
        super().__init__()
        self.state = state

    def write(self, data) -> int:  # type: ignore[override]
        if self.state["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_a_failing_disk_drops_records_warns_once_and_recovers(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tempest_sdk.runner")
    state = {"full": True}
    opened: list[FullDisk] = []

    def opener(path: Path) -> FullDisk:
        opened.append(FullDisk(state))
        return opened[-1]

    writer = RecordWriter(tmp_path / "r.jsonl", opener=opener)
    writer.open()
    for n in range(10):
        writer.submit(lambda n=n: line(n))
    for _ in range(500):
        if writer.dropped == 10:
            break
        threading.Event().wait(0.01)
    assert writer.dropped == 10 and writer.written == 0
    warnings = [r for r in caplog.records if "No space left on device" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    state["full"] = False
    writer.submit(lambda: line(10))
    writer.close()
    assert writer.written == 1
    assert "works again: 10 record(s) were dropped" in caplog.text
    assert numbers_of(opened[-1]) == [10]


def test_a_record_that_cannot_be_built_is_dropped_and_logged(tmp_path, caplog):
    writer = RecordWriter(tmp_path / "r.jsonl")
    writer.open()

    def broken() -> bytes:
        raise ValueError("a bug")

    writer.submit(broken)
    writer.submit(lambda: line(1))
    writer.close()
    assert writer.dropped == 1 and writer.written == 1
    assert "a record could not be built" in caplog.text


class CountedFile(KeptFile):
    """A file that counts the writes it gets (each one takes the GIL back)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_what_a_round_finds_queued_is_written_with_one_write_per_file(tmp_path):
    opened: list[CountedFile] = []

    def opener(path: Path) -> CountedFile:
        opened.append(CountedFile())
        return opened[-1]

    writer = RecordWriter(tmp_path / "r.jsonl", max_bytes=1000, files=3, opener=opener)
    # Queued before the writer starts: its first round finds all 25.
    for n in range(25):
        writer.submit(lambda n=n: line(n))
    assert writer.pending == 25
    writer.open()
    writer.close()
    assert writer.written == 25 and writer.dropped == 0
    # 10 lines of 100 bytes fill a file: three files, one write each, in order.
    assert [file.writes for file in opened] == [1, 1, 1]
    assert [numbers_of(file) for file in opened] == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]


def test_records_the_writer_holds_count_against_the_queue_limit(tmp_path):
    gate = threading.Event()
    writer, files = slow_writer(tmp_path, gate)
    for n in range(4):
        assert writer.submit(lambda n=n: line(n))
    writer.open()  # takes the four, and its write waits for the gate
    for _ in range(500):
        if not writer._queue:
            break
        threading.Event().wait(0.01)
    assert not writer._queue and writer.pending == 4
    # The queue is empty, but the writer holds four: the limit is reached.
    assert not writer.submit(lambda: line(4))
    gate.set()
    writer.close()
    assert writer.written == 4 and writer.dropped == 1
    assert numbers_of(files[-1]) == [0, 1, 2, 3]


class Trickle(KeptFile):
    """A raw file that takes at most 37 bytes a write (as a signal or a nearly full
    disk may make it): the writer writes the rest."""

    def write(self, data) -> int:  # type: ignore[override]
        return super().write(bytes(data[:37]))


def test_a_file_that_takes_part_of_a_write_gets_the_rest(tmp_path):
    opened: list[Trickle] = []

    def opener(path: Path) -> Trickle:
        opened.append(Trickle())
        return opened[-1]

    writer = RecordWriter(tmp_path / "r.jsonl", opener=opener)
    for n in range(20):
        writer.submit(lambda n=n: line(n))
    writer.open()
    writer.close()
    assert writer.written == 20 and writer.dropped == 0
    assert numbers_of(opened[-1]) == list(range(20))
