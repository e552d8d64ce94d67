"""Leases: a task handed out and not reported in time is handed out again (at least
once), in its original place; reports are recorded whenever they come."""

from __future__ import annotations

import time

import pytest

from tempest_sdk.emulator import Emulator
from tempest_sdk.models import ListResourcesResponse, TaskReport

from .conftest import APP, VERSION


def _ok(task_id: str) -> TaskReport:
    return TaskReport.ok(task_id, ListResourcesResponse(resources=[]))


async def test_an_unreported_task_is_redelivered_after_its_lease(client, serving, clock):
    task_id = serving.enqueue_list(APP, VERSION, "example")

    first = await client.next_task(APP, VERSION)
    clock.advance(serving.lease_timeout - 0.001)
    assert await client.next_task(APP, VERSION) is None
    assert serving.leased() == [task_id]
    clock.advance(0.001)
    assert serving.queued() == [task_id]
    second = await client.next_task(APP, VERSION)
    await client.report(_ok(task_id))

    assert first is not None
    assert second is not None
    assert first.task_id == second.task_id == task_id
    assert first == second  # the same task, byte for byte
    assert serving.deliveries(task_id) == 2
    assert serving.reported() == [task_id]
    clock.advance(serving.lease_timeout * 2)
    assert await client.next_task(APP, VERSION) is None


async def test_a_redelivered_task_goes_back_to_its_place_in_the_queue(client, serving, clock):
    early = serving.enqueue_list(APP, VERSION, "example")
    await client.next_task(APP, VERSION)
    later = serving.enqueue_list(APP, VERSION, "example")

    clock.advance(serving.lease_timeout)

    assert serving.queued() == [early, later]
    assert (await client.next_task(APP, VERSION)).task_id == early
    assert (await client.next_task(APP, VERSION)).task_id == later


async def test_a_late_report_still_counts_and_stops_redelivery(client, serving, clock):
    task_id = serving.enqueue_list(APP, VERSION, "example")
    await client.next_task(APP, VERSION)
    clock.advance(serving.lease_timeout)
    assert serving.queued() == [task_id]

    await client.report(_ok(task_id))

    assert serving.queued() == []
    assert serving.reported() == [task_id]
    assert await client.next_task(APP, VERSION) is None


async def test_duplicate_reports_are_recorded_and_counted(client, serving, clock):
    task_id = serving.enqueue_list(APP, VERSION, "example")
    await client.next_task(APP, VERSION)
    clock.advance(serving.lease_timeout)
    await client.next_task(APP, VERSION)

    first = await client.report(_ok(task_id))
    second = await client.report(TaskReport.error(task_id, "second thoughts"))

    assert first.message == "report recorded"
    assert second.message == "duplicate report recorded"
    assert [r["status"] for r in serving.reports(task_id)] == ["ok", "error"]
    assert serving.duplicate_reports == 1
    assert serving.reported() == [task_id]


def test_the_lease_can_be_changed_at_runtime(emulator, clock):
    emulator.lease_timeout = 0.5
    task_id = emulator.enqueue_list(APP, VERSION, "example")
    with emulator.sync_client() as client:
        client.next_task(APP, VERSION)
        clock.advance(0.5)
        again = client.next_task(APP, VERSION)

    assert again is not None
    assert again.task_id == task_id
    with pytest.raises(ValueError, match="lease_timeout must be a positive number"):
        emulator.lease_timeout = 0


def test_leases_expire_on_the_real_clock_too():
    emulator = Emulator(lease_timeout=0.05)
    task_id = emulator.enqueue_list(APP, VERSION, "example")

    with emulator.sync_client() as client:
        client.next_task(APP, VERSION)
        # Polls until the lease has run out; bounded by the test's own patience.
        for _ in range(200):
            again = client.next_task(APP, VERSION)
            if again is not None:
                break
            time.sleep(0.01)

    assert again is not None
    assert again.task_id == task_id
