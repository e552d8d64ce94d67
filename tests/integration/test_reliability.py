"""The runner's reliability suite: the real runner, client and apps against the real
emulator on loopback, with faults injected. Deterministic: seeded faults, fake lease
clocks and explicit gates instead of timing."""

from __future__ import annotations

import json
import logging
import random
import threading
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk._backoff import Backoff
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

from .apps import APP_ID, OPTIONS, Tracker, widget_app
from .conftest import serving, wait_until

pytestmark = pytest.mark.integration

NEXT = "apps.operations.next"
REPORT = "apps.operations.report"


def enqueue_mixed(emulator: Emulator, count: int, seed: int) -> dict[str, dict[str, Any]]:
    """Enqueue `count` tasks of every kind; return the expected response of each."""
    rng = random.Random(seed)
    expected: dict[str, dict[str, Any]] = {}
    for i in range(count):
        kind = ("create", "read", "update", "delete", "list", "action")[i % 6]
        color, size, ext = rng.choice(["red", "blue", "green"]), rng.randint(1, 9), f"w-{i}"
        if kind == "create":
            task_id = emulator.enqueue_operation(
                APP_ID, "v1", "widget", "create", input={"color": color, "size": size}
            )
            resource = {
                "external_id": f"w-{color}-{size}",
                "properties": {"color": color, "size": size},
            }
            expected[task_id] = {"resource": resource}
        elif kind == "read":
            task_id = emulator.enqueue_operation(APP_ID, "v1", "widget", "read", external_id=ext)
            resource = {"external_id": ext, "properties": {"color": "read", "size": len(ext)}}
            expected[task_id] = {"resource": resource}
        elif kind == "update":
            task_id = emulator.enqueue_operation(
                APP_ID,
                "v1",
                "widget",
                "update",
                external_id=ext,
                input={"color": color, "size": size},
            )
            resource = {"external_id": ext, "properties": {"color": color, "size": size}}
            expected[task_id] = {"resource": resource}
        elif kind == "delete":
            task_id = emulator.enqueue_operation(APP_ID, "v1", "widget", "delete", external_id=ext)
            expected[task_id] = {"resource": {"external_id": ext}}
        elif kind == "list":
            page = rng.randint(0, 2)
            task_id = emulator.enqueue_list(APP_ID, "v1", "widget", next=str(page) if page else "")
            expected[task_id] = {
                "resources": [f"w-{page}-0", f"w-{page}-1"],
                "next": str(page + 1) if page < 2 else "",
            }
        else:
            task_id = emulator.enqueue_action(
                APP_ID, "v1", "widget", "resize", external_id=ext, input={"size": size}
            )
            expected[task_id] = {"output": {"external_id": ext, "size": size}}
    return expected


def check_response(task_id: str, report: dict[str, Any], expected: dict[str, Any]) -> None:
    assert report["status"] == "ok", (task_id, report)
    response = report["response"]
    if "output" in expected:
        assert response["output"] == expected["output"]
    elif "resources" in expected:
        assert [r["external_id"] for r in response["resources"]] == expected["resources"]
        assert response["next"] == expected["next"]
    else:
        for key, value in expected["resource"].items():
            assert response["resource"][key] == value, (task_id, key)


async def test_500_mixed_tasks_under_faults_are_each_reported_once_and_right():
    emulator = Emulator(seed=2024, lease_timeout=1.0)
    tracker = Tracker()
    expected = enqueue_mixed(emulator, 500, seed=1)
    async with serving(emulator, widget_app(tracker), concurrency=16):
        # Faults start once the runner is up (its first poll fails fast on errors).
        for endpoint in (NEXT, REPORT):
            emulator.inject(endpoint, status=503, probability=0.05)
            emulator.inject(endpoint, status=500, probability=0.05)
        emulator.inject(NEXT, drop="after", probability=0.02)  # leased, answer lost
        emulator.inject(REPORT, drop="before", probability=0.02)  # report lost
        await emulator.wait_for_reports_async(500, timeout=45)
    faults = {f.endpoint + str(f.status or f.drop): f.count for f in emulator.faults}
    assert sum(faults.values()) > 50, faults  # the faults did fire
    assert sorted(emulator.reported()) == sorted(expected)
    for task_id, want in expected.items():
        reports = emulator.reports(task_id)
        assert len(reports) == 1, (task_id, reports)
        check_response(task_id, reports[0], want)
    assert emulator.duplicate_reports == 0
    assert emulator.violations == []
    # Redelivered tasks (answers lost after the lease) ran once, like every other.
    assert set(tracker.runs) == set(expected)
    assert set(tracker.runs.values()) == {1}


async def test_lease_expiry_while_a_report_is_delayed_never_runs_a_handler_twice():
    now = [0.0]
    emulator = Emulator(seed=5, lease_timeout=10.0, clock=lambda: now[0])
    tracker = Tracker()
    # 6 tasks: with 2 reporters, 2 reports in delivery and 4 queued leave the slots free
    # (more would hold every slot until reports get through: that is the backpressure).
    ids = [
        emulator.enqueue_operation(APP_ID, "v1", "widget", "create", input={"size": i})
        for i in range(6)
    ]
    async with serving(emulator, widget_app(tracker), concurrency=4, reporters=2):
        emulator.inject(REPORT, status=503)  # reports fail until cleared
        await wait_until(lambda: len(tracker.runs) == 6, "6 handler runs")
        now[0] += 11.0  # every lease expires: the tasks are handed out again
        await wait_until(
            lambda: all(emulator.deliveries(t) >= 2 for t in ids), "every task redelivered"
        )
        emulator.clear_faults()
        await emulator.wait_for_reports_async(6, timeout=10)
    assert all(len(emulator.reports(t)) == 1 for t in ids)
    assert dict(tracker.runs) == dict.fromkeys(ids, 1)


class Sized(BaseModel):
    size: int = 0


def misbehaving_app(release: threading.Event) -> tempest.App:
    app = tempest.App("misbehaving", "v1")
    gadget = app.resource("gadget", display_name="Gadget", description="d", properties=Sized)

    @gadget.create
    async def create(ctx: tempest.Context) -> tempest.Resource:
        raise tempest.TaskError("quota exceeded for project P")

    @gadget.read
    async def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        return tempest.Resource(external_id="g1", display_name="G", properties={"size": "huge"})

    @gadget.update(timeout=0.3)
    async def update(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    @gadget.delete(timeout=0.3)
    def delete(ctx: tempest.Context, resource: tempest.Resource) -> None:
        release.wait(30)  # blocks its thread long past the timeout

    @gadget.action("ping", display_name="Ping", description="Answer at once.")
    async def ping(ctx: tempest.Context, resource: tempest.Resource) -> dict[str, Any]:
        return {}

    return app


async def test_misbehaving_handlers_get_the_right_error_and_others_keep_being_served():
    release = threading.Event()
    emulator = Emulator(seed=9)
    enqueue = emulator.enqueue_operation
    raising = enqueue("misbehaving", "v1", "gadget", "create")
    invalid = enqueue("misbehaving", "v1", "gadget", "read", external_id="g1")
    hanging = enqueue("misbehaving", "v1", "gadget", "update", external_id="g1")
    blocking = enqueue("misbehaving", "v1", "gadget", "delete", external_id="g1")
    good = [
        emulator.enqueue_action("misbehaving", "v1", "gadget", "ping", external_id="g1")
        for _ in range(30)
    ]
    try:
        async with serving(emulator, misbehaving_app(release), concurrency=4):
            # Served while the blocking handler's thread is still blocked.
            await wait_until(
                lambda: all(
                    emulator.reports(t) for t in [*good, raising, invalid, hanging, blocking]
                ),
                "every report",
            )
            assert not release.is_set()
    finally:
        release.set()

    def message(task_id: str) -> str:
        [report] = emulator.reports(task_id)
        assert report["status"] == "error"
        assert report["response"] is None
        return str(report["message"])

    assert "quota exceeded for project P" in message(raising)
    assert "size" in message(invalid)
    assert "timed out after 0.3s" in message(hanging)
    assert "timed out after 0.3s" in message(blocking)
    assert all(emulator.reports(t)[0]["status"] == "ok" for t in good)
    assert emulator.violations == []


async def test_shutdown_with_32_tasks_in_flight_drains_them_and_fetches_nothing_new():
    emulator = Emulator(seed=4)
    gate = threading.Event()
    app = tempest.App("drain", "v1")
    thing = app.resource("thing", display_name="Thing", description="d")

    @thing.action("work", display_name="Work", description="Wait for the gate.")
    async def work(ctx: tempest.Context, resource: tempest.Resource) -> dict[str, Any]:
        while not gate.is_set():  # noqa: ASYNC110 - the gate is set from the test
            await anyio.sleep(0.005)
        return {"done": True}

    ids = [
        emulator.enqueue_action("drain", "v1", "thing", "work", external_id=f"t{i}")
        for i in range(40)
    ]
    async with emulator.serve(), emulator.client() as client:
        runner = Runner(app, client, concurrency=32, shutdown_grace=20.0, **OPTIONS)
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await runner.ready()
            await wait_until(lambda: runner.in_flight == 32, "32 tasks in flight")
            polls = sum(n for (ep, _), n in emulator.request_counts.items() if ep == NEXT)
            group.start_soon(runner.shutdown)
            await wait_until(lambda: runner.state == "stopping", "the runner stopping")
            gate.set()
        assert runner.state == "stopped"
    assert sum(n for (ep, _), n in emulator.request_counts.items() if ep == NEXT) == polls
    reported = emulator.reported()
    assert len(reported) == 32
    assert all(emulator.reports(t)[0]["status"] == "ok" for t in reported)
    assert len(emulator.queued()) == 8
    assert set(emulator.queued()) | set(reported) == set(ids)


async def test_malformed_next_answers_are_logged_reported_when_possible_and_served_past(caplog):
    emulator = Emulator(seed=6, lease_timeout=0.3)
    tracker = Tracker()
    ids = [
        emulator.enqueue_operation(APP_ID, "v1", "widget", "create", input={"size": i})
        for i in range(10)
    ]
    async with serving(emulator, widget_app(tracker), concurrency=2):
        for kind in ("bad_json", "unknown_request_type", "missing_fields"):
            emulator.inject(NEXT, malformed=kind, times=1)
        # The task behind the bad JSON is handed out again once its lease runs out.
        await emulator.wait_for_reports_async(10, timeout=15)
    statuses = {t: emulator.reports(t)[0]["status"] for t in ids}
    errors = [t for t, status in statuses.items() if status == "error"]
    assert len(errors) == 2
    for task_id in errors:
        assert "could not read this task" in emulator.reports(task_id)[0]["message"]
        assert task_id not in tracker.runs
    assert set(tracker.runs.values()) == {1}
    assert len(tracker.runs) == 8
    assert emulator.violations == []
    unreadable = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(unreadable) == 3


class Longest(random.Random):
    """Backoff randomness that always picks the longest delay."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def test_a_report_survives_a_crash_between_handler_and_report(tmp_path):
    emulator = Emulator(seed=8, lease_timeout=60.0)
    tracker = Tracker()
    ids = [
        emulator.enqueue_operation(APP_ID, "v1", "widget", "create", input={"size": i})
        for i in range(5)
    ]
    outbox = tmp_path / "outbox"
    # After its first attempt is lost, each report waits 15 s (a quarter of the base)
    # before trying again, so once the 5 losses are counted nothing is on its way to the
    # emulator: a request still in flight at the crash could reach it after the faults
    # are cleared.
    patient = {**OPTIONS, "retry_backoff": Backoff(base=60.0, cap=60.0, rng=Longest())}
    async with emulator.serve():
        async with emulator.client() as client:
            runner = Runner(widget_app(tracker), client, outbox=outbox, **patient)
            emulator.inject(REPORT, drop="before")  # every report is lost
            async with anyio.create_task_group() as group:
                group.start_soon(runner.run)
                await runner.ready()
                await wait_until(lambda: len(tracker.runs) == 5, "5 handlers done")
                await wait_until(lambda: len(list(outbox.glob("*.json"))) == 5, "5 kept reports")
                await wait_until(
                    lambda: emulator.request_counts[("apps.operations.report", 0)] == 5,
                    "the first attempt of each report lost",
                )
                runner.abort()  # the crash: nothing more is sent
        assert emulator.reported() == []
        emulator.clear_faults()
        emulator.lease_timeout = 0.01  # and the control plane hands the tasks out again
        async with (
            emulator.client() as client,
            Runner(widget_app(tracker), client, outbox=outbox, **OPTIONS),
        ):
            await emulator.wait_for_reports_async(5, timeout=10)
            await wait_until(lambda: not list(outbox.glob("*.json")), "an empty outbox")
    assert all(len(emulator.reports(t)) == 1 for t in ids)
    assert all(emulator.reports(t)[0]["status"] == "ok" for t in ids)
    assert dict(tracker.runs) == dict.fromkeys(ids, 1)


async def test_secret_environment_values_never_reach_logs_or_reports(caplog):
    caplog.set_level(logging.DEBUG)
    secret = "tok-9f8e7d6c5b4a"
    env = [
        {"name": "API_TOKEN", "value": secret, "type": "secret"},
        {"name": "REGION", "value": "eu-west-1", "type": "variable"},
    ]
    app = tempest.App("secretive", "v1")
    vault = app.resource("vault", display_name="Vault", description="d", properties=Sized)

    @vault.create
    async def create(ctx: tempest.Context) -> tempest.Resource:
        token = ctx.env.secret("API_TOKEN")
        ctx.logger.info("calling the API in %s", ctx.env["REGION"])
        raise RuntimeError(f"401 from https://api.example.com/?token={token}")

    @vault.read
    def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        token = ctx.env.secret("API_TOKEN")
        raise tempest.TaskError(f"token {token} rejected")

    @vault.action("rotate", display_name="Rotate", description="d")
    async def rotate(ctx: tempest.Context, resource: tempest.Resource) -> dict[str, Any]:
        assert ctx.env.secret("API_TOKEN") == secret
        return {"rotated": True}

    emulator = Emulator(seed=10)
    ids = [
        emulator.enqueue_operation("secretive", "v1", "vault", "create", environment_variables=env),
        emulator.enqueue_operation(
            "secretive", "v1", "vault", "read", external_id="v", environment_variables=env
        ),
        emulator.enqueue_action(
            "secretive", "v1", "vault", "rotate", external_id="v", environment_variables=env
        ),
    ]
    async with serving(emulator, app):
        await emulator.wait_for_reports_async(3, timeout=10)
    reports = [emulator.reports(t)[0] for t in ids]
    assert [r["status"] for r in reports] == ["error", "error", "ok"]
    assert secret not in json.dumps(reports)
    outside_emulator = [
        r.getMessage() + repr(r.__dict__)
        for r in caplog.records
        if not r.name.startswith("tempest_sdk.emulator")
    ]
    assert outside_emulator
    assert not [line for line in outside_emulator if secret in line]
