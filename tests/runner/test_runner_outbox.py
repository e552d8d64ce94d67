"""The on-disk outbox, alone and through the runner."""

from __future__ import annotations

import os

import anyio

from tempest_sdk.models import ReportStatus, TaskReport
from tempest_sdk.runner import Runner
from tempest_sdk.runner._outbox import Outbox

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
