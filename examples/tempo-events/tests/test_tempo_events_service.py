"""The service end to end: `python tempo_service.py` (uvicorn on uvloop) in a subprocess on
127.0.0.1, its runner pointed at a real emulator on 127.0.0.1 in this process. Events go
in over HTTP as Tempo sends them; tasks go in through the emulator; reports come out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tempo_events_harness import (
    API_KEY,
    APP_ID,
    PASSWORD,
    VERSION,
    Service,
    api_key,
    basic,
    running_service,
    service_env,
)

from tempest_sdk.emulator import Emulator

pytestmark = pytest.mark.integration

BATCH_METADATA = {
    "OrganizationID": "org-17",
    "OrganizationName": "Acme Pharma",
    "OrganizationURL": "https://acme.tempo.example",
    "EventType": "Batch",
    "EventTrigger": "batch_run_status",
    "Subscriber": "tempest-events",
    "CreatedBy": "System Auto Execution",
    "SourceEnvironment": "production",
    "CreationDateTime": "2026-06-18T00:00:00.000Z",
}


def batch_event(batch: str, status: str = "Completed") -> dict[str, Any]:
    return {"batch_run_id": batch, "status": status, "Metadata": BATCH_METADATA}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Service]]:
    """One emulator and one service for the module's tests (each uses its own ids)."""
    tmp = tmp_path_factory.mktemp("tempo-events")
    emulator = Emulator(seed=1704)
    with emulator.serve_in_thread():
        env = service_env(
            emulator.url,
            emulator.token,
            tmp / "events.sqlite3",
            TEMPEST_RUNNER_CONNECT="1",
            TEMPEST_RUNNER_HEALTH_INTERVAL="0.5",
            TEMPO_MAX_EVENT_BYTES="65536",
        )
        with running_service(env, tmp / "service.log") as service:
            ready = service.wait_until_ready()
            assert (ready.status, ready.body["ok"]) == (200, True), service.tail()
            yield emulator, service


def run_task(emulator: Emulator, service: Service, task_id: str) -> dict[str, Any]:
    """Wait for the task's report; return it."""
    service.wait_for(lambda: bool(emulator.reports(task_id)), f"the report of task {task_id}")
    [report] = emulator.reports(task_id)
    return report


def ok(emulator: Emulator, service: Service, task_id: str) -> dict[str, Any]:
    report = run_task(emulator, service, task_id)
    assert report["status"] == "ok", report
    response: dict[str, Any] = report["response"]
    return response


def read_event(emulator: Emulator, service: Service, request_id: str) -> dict[str, Any]:
    task = emulator.enqueue_operation(APP_ID, VERSION, "event", "read", external_id=request_id)
    return run_task(emulator, service, task)


def test_the_service_runs_on_uvloop_and_connects_the_app(
    served: tuple[Emulator, Service],
) -> None:
    emulator, service = served
    assert "event loop: uvloop.Loop" in service.output(), service.tail()
    [connect] = [c for c in emulator.connects if c["app_id"] == APP_ID]
    assert [r["type"] for r in connect["resources"]] == ["subscription", "event"]
    assert service.request("GET", "/livez").status == 200


def test_events_sent_in_both_auth_modes_are_stored_with_their_metadata(
    served: tuple[Emulator, Service],
) -> None:
    emulator, service = served
    with_basic = service.send_event(batch_event("B-100"), request_id="both-1", auth=basic())
    assert (with_basic.status, with_basic.body) == (
        200,
        {"request_id": "both-1", "duplicate": False},
    )
    with_key = service.send_event(
        {"material": "M-7", "quantity": 12}, request_id="both-2", auth=api_key()
    )
    assert (with_key.status, with_key.body) == (200, {"request_id": "both-2", "duplicate": False})

    first = read_event(emulator, service, "both-1")["response"]["resource"]["properties"]
    assert first["auth"] == "basic"
    assert first["has_metadata"] is True
    assert (first["event_type"], first["event_trigger"]) == ("Batch", "batch_run_status")
    assert (first["subscriber"], first["organization_name"]) == ("tempest-events", "Acme Pharma")
    assert first["created_at"] == "2026-06-18T00:00:00.000Z"
    assert first["correlation_id"] == "both-1"
    assert json.loads(first["payload"]) == batch_event("B-100")

    second = read_event(emulator, service, "both-2")["response"]["resource"]["properties"]
    assert second["auth"] == "api_key"
    assert second["has_metadata"] is False
    assert (second["event_type"], second["event_trigger"]) == ("", "")
    assert json.loads(second["payload"]) == {"material": "M-7", "quantity": 12}

    listed = ok(emulator, service, emulator.enqueue_list(APP_ID, VERSION, "event"))
    ids = [r["external_id"] for r in listed["resources"]]
    assert ids.index("both-1") < ids.index("both-2")


def test_a_duplicate_request_id_is_answered_200_and_stored_once(
    served: tuple[Emulator, Service],
) -> None:
    emulator, service = served
    create = emulator.enqueue_operation(
        APP_ID,
        VERSION,
        "subscription",
        "create",
        input={"name": "dedup-watch", "event_trigger": "dedup_test"},
    )
    ok(emulator, service, create)
    event = {"n": 1, "Metadata": {**BATCH_METADATA, "EventTrigger": "dedup_test"}}
    first = service.send_event(event, request_id="dup-1", auth=basic())
    again = service.send_event(event, request_id="dup-1", auth=basic())
    changed = service.send_event({**event, "n": 2}, request_id="dup-1", auth=api_key())
    assert [a.status for a in (first, again, changed)] == [200, 200, 200]
    assert [a.body["duplicate"] for a in (first, again, changed)] == [False, True, True]

    stored = read_event(emulator, service, "dup-1")["response"]["resource"]["properties"]
    assert json.loads(stored["payload"])["n"] == 1  # the first delivery is kept
    assert stored["auth"] == "basic"
    read = emulator.enqueue_operation(
        APP_ID, VERSION, "subscription", "read", external_id="dedup-watch"
    )
    properties = ok(emulator, service, read)["resource"]["properties"]
    assert (properties["matched"], properties["pending"]) == (1, 1)
    assert "event dup-1 was delivered again with a different body" in service.output()


def test_bad_credentials_get_401_are_not_stored_and_degrade_health(
    served: tuple[Emulator, Service],
) -> None:
    emulator, service = served
    attempts = {
        "bad-basic": basic(password="not-the-password"),
        "bad-key": api_key("not-the-key"),
        "no-auth": {},
        "bearer": {"Authorization": "Bearer some-token"},
    }
    for request_id, auth in attempts.items():
        answer = service.send_event(batch_event("B-401"), request_id=request_id, auth=auth)
        assert answer.status == 401, (request_id, answer)
        assert answer.headers["www-authenticate"].startswith('Basic realm="tempo-events"')
        assert answer.body["detail"]
    for request_id in attempts:
        report = read_event(emulator, service, request_id)
        assert report["status"] == "error"
        assert f"no event with id {request_id!r}" in report["message"]

    def degraded() -> bool:
        return any(
            item["type"] == "event" and item["status"] == "degraded"
            for health in emulator.health_reports
            for item in health["health_reports"]
        )

    service.wait_for(degraded, "a degraded health report of the event type")
    [message] = {
        item["message"]
        for health in emulator.health_reports
        for item in health["health_reports"]
        if item["status"] == "degraded"
    }
    assert "refused for bad or missing credentials" in message
    output = service.output()
    assert "refused a delivery from 127.0.0.1: wrong Basic username or password" in output
    for secret in (PASSWORD, API_KEY, emulator.token, "not-the-password", "not-the-key"):
        assert secret not in output


@pytest.mark.parametrize(
    ("body", "headers", "status", "detail"),
    [
        (
            b'{"a": 1}',
            {"Content-Type": "text/plain", "X-Request-Id": "m-1"},
            415,
            "send application/json",
        ),
        (b"{oops", {"Content-Type": "application/json", "X-Request-Id": "m-2"}, 400, "not JSON"),
        (b"[1]", {"Content-Type": "application/json", "X-Request-Id": "m-3"}, 422, "not an object"),
        (b'{"a": 1}', {"Content-Type": "application/json"}, 400, "no X-Request-Id header"),
        (
            b'{"pad": "' + b"x" * 70_000 + b'"}',
            {"Content-Type": "application/json", "X-Request-Id": "m-5"},
            413,
            "larger than 65536 bytes (TEMPO_MAX_EVENT_BYTES)",
        ),
    ],
)
def test_deliveries_that_cannot_be_stored_are_answered_with_a_reason(
    served: tuple[Emulator, Service],
    body: bytes,
    headers: dict[str, str],
    status: int,
    detail: str,
) -> None:
    _, service = served
    answer = service.request("POST", "/tempo/events", body, headers | api_key())
    assert answer.status == status, answer
    assert detail in answer.body["detail"]


def test_subscription_reports_follow_the_received_events(
    served: tuple[Emulator, Service],
) -> None:
    emulator, service = served
    created = ok(
        emulator,
        service,
        emulator.enqueue_operation(
            APP_ID,
            VERSION,
            "subscription",
            "create",
            input={"name": "printing", "event_type": "Printing", "event_trigger": "dispense"},
        ),
    )
    assert created["resource"]["properties"]["matched"] == 0

    def printing(request_id: str, trigger: str) -> None:
        metadata = {**BATCH_METADATA, "EventType": "Printing", "EventTrigger": trigger}
        answer = service.send_event(
            {"label": request_id, "Metadata": metadata}, request_id=request_id, auth=basic()
        )
        assert answer.status == 200, answer

    printing("print-1", "dispense")
    printing("print-2", "create_label")
    printing("print-3", "dispense")

    def read() -> dict[str, Any]:
        task = emulator.enqueue_operation(
            APP_ID, VERSION, "subscription", "read", external_id="printing"
        )
        properties: dict[str, Any] = ok(emulator, service, task)["resource"]["properties"]
        return properties

    properties = read()
    assert (properties["matched"], properties["pending"]) == (2, 2)
    assert properties["last_request_id"] == "print-3"

    waited = ok(
        emulator,
        service,
        emulator.enqueue_action(
            APP_ID, VERSION, "subscription", "await_event", external_id="printing"
        ),
    )
    assert (waited["output"]["outcome"], waited["output"]["request_id"]) == ("received", "print-1")
    acknowledged = ok(
        emulator,
        service,
        emulator.enqueue_action(
            APP_ID, VERSION, "subscription", "acknowledge", external_id="printing", input={}
        ),
    )
    assert acknowledged["output"] == {"acknowledged": 2, "pending": 0}

    # A wait that is running when the event comes in ends with it.
    waiting = emulator.enqueue_action(
        APP_ID,
        VERSION,
        "subscription",
        "await_event",
        external_id="printing",
        input={"timeout_seconds": 120},
    )
    service.wait_for(lambda: waiting in emulator.leased(APP_ID, VERSION), "await_event to run")
    printing("print-4", "dispense")
    output = ok(emulator, service, waiting)["output"]
    assert (output["outcome"], output["request_id"]) == ("received", "print-4")
    assert (read()["matched"], read()["pending"]) == (3, 1)

    listed = ok(emulator, service, emulator.enqueue_list(APP_ID, VERSION, "subscription"))
    assert "printing" in [r["external_id"] for r in listed["resources"]]
    ok(
        emulator,
        service,
        emulator.enqueue_operation(
            APP_ID, VERSION, "subscription", "delete", external_id="printing"
        ),
    )
    assert emulator.violations == []


def test_sigterm_drains_a_waiting_task_reports_it_and_exits_0(tmp_path: Path) -> None:
    emulator = Emulator(seed=1705)
    with emulator.serve_in_thread():
        env = service_env(emulator.url, emulator.token, tmp_path / "events.sqlite3")
        with running_service(env, tmp_path / "service.log") as service:
            assert service.wait_until_ready().status == 200
            create = emulator.enqueue_operation(
                APP_ID, VERSION, "subscription", "create", input={"name": "slow"}
            )
            ok(emulator, service, create)
            assert (
                service.send_event({"x": 1}, request_id="before-stop", auth=api_key()).status == 200
            )
            ok(
                emulator,
                service,
                emulator.enqueue_action(
                    APP_ID, VERSION, "subscription", "acknowledge", external_id="slow", input={}
                ),
            )
            # Nothing is pending: this task waits up to 200 s, far beyond the stop.
            slow = emulator.enqueue_action(
                APP_ID,
                VERSION,
                "subscription",
                "await_event",
                external_id="slow",
                input={"timeout_seconds": 200},
            )
            service.wait_for(
                lambda: slow in emulator.leased(APP_ID, VERSION),
                "the slow task to be handed out (running, not reported)",
            )
            assert emulator.reports(slow) == []
            status = service.stop()
        output = service.output()
        assert status == 0, f"exit status {status}:\n{service.tail()}"
        assert "Application shutdown complete." in output, service.tail()
        assert "Traceback" not in output, service.tail()
        [report] = emulator.reports(slow)
        assert report["status"] == "ok", report
        assert report["response"]["output"]["outcome"] == "stopped"
        assert emulator.queued() == []
        assert emulator.leased() == []
        assert emulator.violations == []
        for secret in (PASSWORD, API_KEY, emulator.token):
            assert secret not in output


def test_missing_tempo_credentials_stop_the_start_with_the_variables_to_set(
    tmp_path: Path,
) -> None:
    emulator = Emulator(seed=1706)
    with emulator.serve_in_thread():
        env = service_env(emulator.url, emulator.token, tmp_path / "events.sqlite3")
        for name in ("TEMPO_BASIC_USERNAME", "TEMPO_API_KEY"):
            del env[name]
        with running_service(env, tmp_path / "service.log") as service:
            status = service.process.wait(timeout=60)
        output = service.output()
    assert status == 3, output  # uvicorn's status for a failed startup
    assert "invalid settings ReceiverSettings" in output
    assert "set TEMPO_BASIC_USERNAME too" in output
    assert PASSWORD not in output
    assert emulator.request_counts.total() == 0  # it never polled


def test_a_rejected_tempest_token_stops_the_start(tmp_path: Path) -> None:
    emulator = Emulator(seed=1707)
    wrong_token = "not-the-emulator-token-5b1e"
    with emulator.serve_in_thread():
        env = service_env(emulator.url, wrong_token, tmp_path / "events.sqlite3")
        with running_service(env, tmp_path / "service.log") as service:
            status = service.process.wait(timeout=60)
        output = service.output()
    assert status == 3, output
    assert "cannot start serving app tempo-events v1" in output
    assert "TEMPEST_TOKEN" in output
    assert wrong_token not in output
