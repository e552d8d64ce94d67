"""The on-disk outbox, alone and through the runner."""

from __future__ import annotations

import os

import anyio
import pytest

from tempest_sdk.models import ReportStatus, TaskReport
from tempest_sdk.runner import Runner, RunnerConfigError, RunnerOptions, options_from_env
from tempest_sdk.runner._outbox import BLOCK_SIZE, Outbox, OutboxFullError

from .fakes import FAST, FakeApp, FakeSource, make_task, ok_report, wait_until


def test_put_open_remove(tmp_path):
    outbox = Outbox(tmp_path / "outbox")
    assert outbox.open() == []
    assert (tmp_path / "outbox").stat().st_mode & 0o777 == 0o700
    first = ok_report(make_task("task/../1"))
    second = TaskReport.error("t2", "failed")
    outbox.put(first)
    os.utime(next((tmp_path / "outbox").iterdir()), (1, 1))  # older than the next
    outbox.put(second)
    assert outbox.pending_count() == 2
    files = list((tmp_path / "outbox").iterdir())
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert [r.task_id for r in Outbox(tmp_path / "outbox").open()] == ["task/../1", "t2"]
    outbox.remove("task/../1")
    outbox.remove("unknown")
    assert [r.to_wire() for r in outbox.open()] == [second.to_wire()]


def test_partial_and_unreadable_files_are_set_aside(tmp_path, caplog):
    outbox = Outbox(tmp_path)
    outbox.put(TaskReport.error("t1", "failed"))
    (tmp_path / "abc.json.tmp").write_text("{half")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("kept")
    assert [r.task_id for r in outbox.open()] == ["t1"]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "abc.json.tmp" not in names
    assert "bad.json.unreadable" in names
    assert "notes.txt" in names
    assert "unreadable" in caplog.text


async def test_reports_are_kept_until_acknowledged(tmp_path):
    source, app = FakeSource(), FakeApp()
    source.report_gate = anyio.Event()
    source.push("shop", "v1", make_task("t1"))
    outbox = Outbox(tmp_path)
    async with Runner(app, source, outbox=tmp_path, **FAST):
        await wait_until(lambda: source.report_attempts["t1"] == 1, "a report attempt")
        assert outbox.pending_count() == 1
        source.report_gate.set()
        await wait_until(lambda: outbox.pending_count() == 0, "the outbox file removed")
    assert source.acked_ids() == ["t1"]


async def test_pending_reports_are_sent_at_start_and_their_tasks_not_run_again(tmp_path):
    Outbox(tmp_path).put(TaskReport.error("t1", "finished before the crash"))
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1"), make_task("t2"))
    async with Runner(app, source, outbox=tmp_path, concurrency=1, **FAST):
        await wait_until(lambda: len(source.acked) == 2, "2 reports")
    assert source.acked[0].task_id == "t1"
    assert source.acked[0].status is ReportStatus.ERROR
    assert app.calls == ["t2"]
    assert Outbox(tmp_path).pending_count() == 0


async def test_an_unwritable_outbox_does_not_lose_the_report(tmp_path, caplog):
    source, app = FakeSource(), FakeApp()
    source.push("shop", "v1", make_task("t1"))
    async with Runner(app, source, outbox=tmp_path, **FAST):
        tmp_path.chmod(0o500)
        try:
            await wait_until(lambda: len(source.acked) == 1, "the report")
        finally:
            tmp_path.chmod(0o700)
    if os.geteuid() != 0:  # root writes anyway
        assert "could not write the report of task t1 to the outbox" in caplog.text


# --- the bound --------------------------------------------------------------------------


def big_report(task_id: str, size: int) -> TaskReport:
    """An error report of about `size` bytes on disk (its message is the payload)."""
    return TaskReport.error(task_id, "x" * size)


def disk_usage(directory) -> int:
    """What a volume's usage counts: every file's blocks."""
    return sum(p.stat().st_blocks * 512 for p in directory.iterdir() if p.is_file())


def test_the_bound_holds_in_reports_and_in_bytes(tmp_path):
    by_count = Outbox(tmp_path / "count", max_reports=3)
    by_count.open()
    for i in range(3):
        by_count.put(TaskReport.error(f"t{i}", "failed"))
    with pytest.raises(OutboxFullError, match=r"is full \(3 reports.*bound: 3 reports"):
        by_count.put(TaskReport.error("t3", "failed"))
    by_count.put(TaskReport.error("t1", "again"))  # a replacement adds no report
    assert by_count.pending_count() == 3
    by_count.remove("t0")
    by_count.put(TaskReport.error("t3", "failed"))  # room again
    assert by_count.pending_count() == 3

    mib = 2**20
    by_bytes = Outbox(tmp_path / "bytes", max_bytes=3 * mib + 2 * BLOCK_SIZE)
    by_bytes.open()
    by_bytes.put(big_report("a", mib))
    by_bytes.put(big_report("b", mib))
    with pytest.raises(OutboxFullError, match="MiB"):
        by_bytes.put(big_report("c", 2 * mib))
    assert sorted(r.task_id for r in Outbox(tmp_path / "bytes").open()) == ["a", "b"]
    assert not list((tmp_path / "bytes").glob("*.tmp"))  # nothing half-written left
    by_bytes.put(big_report("c", mib // 2))
    assert disk_usage(tmp_path / "bytes") <= by_bytes.max_bytes
    assert by_bytes.used_bytes <= by_bytes.max_bytes


def test_files_left_in_the_directory_count_against_the_bound(tmp_path):
    (tmp_path / "old.json.unreadable").write_bytes(b"x" * 3 * BLOCK_SIZE)
    (tmp_path / "bad.json").write_text("{not json")  # renamed *.unreadable by open()
    outbox = Outbox(tmp_path, max_bytes=6 * BLOCK_SIZE)
    assert outbox.open() == []
    assert outbox.used_bytes == 4 * BLOCK_SIZE
    outbox.put(TaskReport.error("t1", "small"))
    outbox.put(TaskReport.error("t2", "small"))
    with pytest.raises(OutboxFullError):
        outbox.put(TaskReport.error("t3", "small"))
    # An outbox used without open() reads the directory first.
    later = Outbox(tmp_path, max_bytes=6 * BLOCK_SIZE)
    with pytest.raises(OutboxFullError):
        later.put(TaskReport.error("t3", "small"))


async def test_refused_reports_never_take_the_outbox_past_its_bound(tmp_path, caplog):
    """The issue's case, scaled down: reports refused, big results, concurrency 4; the
    outbox holds at most its bound, the rest wait in memory, and all are delivered."""
    kib = 2**10
    tasks = [make_task(f"t{i}") for i in range(20)]

    async def big(task):
        return big_report(task.task_id, 300 * kib)

    source, app = FakeSource(), FakeApp(handler=big)
    source.report_gate = anyio.Event()
    source.push("shop", "v1", *tasks)
    bound = 3 * (300 * kib + BLOCK_SIZE)
    outbox_dir = tmp_path / "outbox"
    async with Runner(
        app, source, outbox=outbox_dir, concurrency=4, outbox_max_bytes=bound, **FAST
    ) as runner:
        # Every slot holds a finished report: the runner stopped fetching.
        await wait_until(lambda: len(app.calls) == 8 and runner.in_flight == 0, "8 tasks run")
        for _ in range(20):
            await anyio.sleep(0.01)
            assert disk_usage(outbox_dir) <= bound
        assert len(list(outbox_dir.glob("*.json"))) == 3
        assert len(app.calls) == 8  # no more fetched while reports wait
        source.report_gate.set()
        await wait_until(lambda: len(source.acked) == 20, "every report")
        await wait_until(lambda: Outbox(outbox_dir).pending_count() == 0, "an empty outbox")
    assert sorted(r.task_id for r in source.acked) == sorted(t.task_id for t in tasks)
    assert "it will be delivered from memory only" in caplog.text
    assert "is full" in caplog.text


def test_the_bound_comes_from_the_environment():
    options = options_from_env(
        {"TEMPEST_RUNNER_OUTBOX_MAX_REPORTS": "50", "TEMPEST_RUNNER_OUTBOX_MAX_BYTES": "8Mi"}
    )
    assert (options.outbox_max_reports, options.outbox_max_bytes) == (50, 8 * 2**20)
    assert options_from_env({"TEMPEST_RUNNER_OUTBOX_MAX_BYTES": " 4096 "}).outbox_max_bytes == 4096
    defaults = options_from_env({})
    assert (defaults.outbox_max_reports, defaults.outbox_max_bytes) == (1024, 63 * 2**20)
    for raw in ("lots", "-1", "1.5Mi", "8MB"):
        with pytest.raises(RunnerConfigError, match="TEMPEST_RUNNER_OUTBOX_MAX_BYTES"):
            options_from_env({"TEMPEST_RUNNER_OUTBOX_MAX_BYTES": raw})
    with pytest.raises(RunnerConfigError, match="outbox_max_reports must be an integer"):
        RunnerOptions(outbox_max_reports=0)
