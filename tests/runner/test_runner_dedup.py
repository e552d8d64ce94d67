"""The ledger of tasks seen by this process."""

from __future__ import annotations

import pytest

from tempest_sdk.runner._dedup import ClaimKind, TaskLedger

from .fakes import make_task, ok_report


def test_a_task_goes_running_reporting_done():
    ledger = TaskLedger(max_done=10)
    assert ledger.claim("t1").kind is ClaimKind.NEW
    assert ledger.claim("t1").kind is ClaimKind.RUNNING
    ledger.reporting("t1")
    assert ledger.claim("t1").kind is ClaimKind.REPORTING
    report = ok_report(make_task("t1"))
    ledger.settled(report)
    claim = ledger.claim("t1")
    assert claim.kind is ClaimKind.DONE
    assert claim.report is not None
    assert claim.report.to_wire() == report.to_wire()
    # Sent again: reporting until acknowledged again.
    assert ledger.claim("t1").kind is ClaimKind.REPORTING
    ledger.settled(report)
    assert ledger.state("t1") is ClaimKind.DONE


def test_memory_is_bounded_by_forgetting_the_oldest_reports():
    ledger = TaskLedger(max_done=3)
    for i in range(5):
        ledger.claim(f"t{i}")
        ledger.settled(ok_report(make_task(f"t{i}")))
    assert ledger.done_count == 3
    assert ledger.active_count == 0
    assert ledger.state("t0") is None
    assert ledger.state("t4") is ClaimKind.DONE
    assert ledger.claim("t0").kind is ClaimKind.NEW


def test_release_forgets_an_active_task():
    ledger = TaskLedger(max_done=3)
    ledger.claim("t1")
    ledger.release("t1")
    assert ledger.state("t1") is None


def test_size_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        TaskLedger(max_done=0)
