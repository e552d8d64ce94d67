"""The tempo-events private app through `dispatch` (no network), over a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from tempo_events_harness import tempo_app, tempo_store

import tempest_sdk as tempest
from tempest_sdk.testing import ainvoke

app: tempest.App = tempo_app.app
EventStore = tempo_store.EventStore
NewEvent = tempo_store.NewEvent


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tempo_store.EventStore]:
    """A store on disk, served to the app in place of its lifespan's."""
    async with EventStore.open(tmp_path / "events.sqlite3") as opened:
        with app.overriding_state(opened):
            yield opened


def batch_event(
    request_id: str, trigger: str = "batch_run_status", **fields: Any
) -> tempo_store.NewEvent:
    return NewEvent(
        request_id=request_id,
        correlation_id=request_id,
        auth="basic",
        payload={"batch_id": request_id, "status": "Completed", **fields},
        has_metadata=True,
        event_type="Batch",
        event_trigger=trigger,
        subscriber="partner-endpoint",
    )


async def call(resource_type: str, name: str, **options: Any) -> dict[str, Any]:
    """Run one task; return its report's wire form."""
    report = await ainvoke(app, resource_type, name, timeout=30, **options)
    wire: dict[str, Any] = json.loads(report.to_json())
    return wire


async def ok(resource_type: str, name: str, **options: Any) -> dict[str, Any]:
    wire = await call(resource_type, name, **options)
    assert wire["status"] == "ok", wire
    response: dict[str, Any] = wire["response"]
    return response


async def failed(resource_type: str, name: str, **options: Any) -> str:
    wire = await call(resource_type, name, **options)
    assert wire["status"] == "error", wire
    assert wire["response"] is None
    message: str = wire["message"]
    return message


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Wait until `condition()` holds (another task of this loop makes it true)."""
    with anyio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110 - a counter, not an event, tells
            await anyio.sleep(0.001)


def test_the_app_declares_subscriptions_with_actions_and_read_only_events() -> None:
    resources = {r["type"]: r for r in app.describe().to_wire()["resources"]}
    assert set(resources) == {"subscription", "event"}
    subscription, event = resources["subscription"], resources["event"]
    assert all(subscription[f"{op}_supported"] for op in ("create", "read", "update", "delete"))
    assert subscription["list_supported"]
    assert [a["name"] for a in subscription["actions"]] == ["acknowledge", "await_event"]
    assert all(event[f"{op}_supported"] for op in ("read", "list", "healthcheck"))
    assert not any(event[f"{op}_supported"] for op in ("create", "update", "delete"))


async def test_a_subscription_counts_matching_events_and_acknowledges_them(
    store: tempo_store.EventStore,
) -> None:
    await store.record(batch_event("before-1"))
    created = await ok(
        "subscription",
        "create",
        input={"name": "batch-status", "event_type": "Batch", "event_trigger": "batch_run_status"},
    )
    resource = created["resource"]
    assert resource["external_id"] == "batch-status"
    assert resource["display_name"] == "batch-status (Batch / batch_run_status)"
    # Events received before the subscription count as matched, not as pending.
    assert resource["properties"] | {"last_received_at": ""} == {
        "name": "batch-status",
        "event_type": "Batch",
        "event_trigger": "batch_run_status",
        "subscriber": "",
        "matched": 1,
        "pending": 0,
        "last_request_id": "before-1",
        "last_received_at": "",
    }
    for request_id in ("ev-1", "ev-2", "ev-3"):
        await store.record(batch_event(request_id))
    await store.record(batch_event("other-1", trigger="procedure_run_state"))

    read = await ok("subscription", "read", external_id="batch-status")
    properties = read["resource"]["properties"]
    assert (properties["matched"], properties["pending"]) == (4, 3)
    assert properties["last_request_id"] == "ev-3"

    first = await ok(
        "subscription", "acknowledge", external_id="batch-status", input={"up_to": "ev-1"}
    )
    assert first["output"] == {"acknowledged": 1, "pending": 2}
    rest = await ok("subscription", "acknowledge", external_id="batch-status", input={})
    assert rest["output"] == {"acknowledged": 2, "pending": 0}
    # Acknowledging again, or an older event, changes nothing.
    again = await ok(
        "subscription", "acknowledge", external_id="batch-status", input={"up_to": "ev-1"}
    )
    assert again["output"] == {"acknowledged": 0, "pending": 0}
    unknown = await failed(
        "subscription", "acknowledge", external_id="batch-status", input={"up_to": "nope"}
    )
    assert "no event with id 'nope' was received" in unknown


async def test_include_past_and_an_update_change_what_is_pending(
    store: tempo_store.EventStore,
) -> None:
    await store.record(batch_event("b-1"))
    await store.record(batch_event("p-1", trigger="procedure_run_state"))
    created = await ok("subscription", "create", input={"name": "everything", "include_past": True})
    assert created["resource"]["display_name"] == "everything (every event)"
    assert created["resource"]["properties"]["pending"] == 2
    updated = await ok(
        "subscription",
        "update",
        external_id="everything",
        input={"event_trigger": "procedure_run_state"},
    )
    properties = updated["resource"]["properties"]
    assert properties["event_trigger"] == "procedure_run_state"
    assert properties["event_type"] == ""  # left out of the input: kept
    assert (properties["matched"], properties["pending"]) == (1, 1)


async def test_creating_twice_is_idempotent_but_a_name_clash_is_refused(
    store: tempo_store.EventStore,
) -> None:
    spec = {"name": "dispense", "event_trigger": "dispense"}
    first = await ok("subscription", "create", input=spec)
    again = await ok("subscription", "create", input=spec)
    assert again["resource"] == first["resource"]
    message = await failed(
        "subscription", "create", input={"name": "dispense", "event_trigger": "create_kit"}
    )
    assert "a subscription named 'dispense' exists already with other filters" in message
    assert "choose another name, or update that one" in message
    invalid = await failed("subscription", "create", input={"name": "Not A Slug"})
    assert "name" in invalid


async def test_delete_keeps_the_events_and_can_be_repeated(store: tempo_store.EventStore) -> None:
    await ok("subscription", "create", input={"name": "gone-soon"})
    await store.record(batch_event("kept-1"))
    await ok("subscription", "delete", external_id="gone-soon")
    await ok("subscription", "delete", external_id="gone-soon")
    missing = await failed("subscription", "read", external_id="gone-soon")
    assert "no subscription named 'gone-soon'" in missing
    assert "no subscription named 'gone-soon'" in await failed(
        "subscription", "update", external_id="gone-soon", input={}
    )
    assert (await store.event("kept-1")) is not None


async def test_subscriptions_list_in_pages_of_fifty(store: tempo_store.EventStore) -> None:
    names = [f"sub-{i:03d}" for i in range(53)]
    for name in names:
        await store.create_subscription(
            name, event_type="", event_trigger="", subscriber="", include_past=False
        )
    first = await ok("subscription", "list", next="")
    assert [r["external_id"] for r in first["resources"]] == names[:50]
    assert first["next"] == "sub-049"
    second = await ok("subscription", "list", next=first["next"])
    assert [r["external_id"] for r in second["resources"]] == names[50:]
    assert second["next"] == ""


async def test_events_list_oldest_first_with_the_cursor(store: tempo_store.EventStore) -> None:
    ids = [f"evt-{i:03d}" for i in range(120)]
    for request_id in ids:
        await store.record(batch_event(request_id))
    seen: list[str] = []
    cursor, pages = "", 0
    while True:
        page = await ok("event", "list", next=cursor)
        seen += [r["external_id"] for r in page["resources"]]
        pages += 1
        cursor = page["next"]
        if not cursor:
            break
    assert (seen, pages) == (ids, 3)
    message = await failed("event", "list", next="not-a-cursor")
    assert "cursor 'not-a-cursor' was not handed out by this app" in message


async def test_an_event_reads_with_its_metadata_and_payload(store: tempo_store.EventStore) -> None:
    await store.record(batch_event("evt-9", quantity=3))
    read = await ok("event", "read", external_id="evt-9")
    resource = read["resource"]
    assert resource["display_name"] == "batch_run_status evt-9"
    properties = resource["properties"]
    assert properties["auth"] == "basic"
    assert properties["has_metadata"] is True
    assert properties["subscriber"] == "partner-endpoint"
    assert json.loads(properties["payload"]) == {
        "batch_id": "evt-9",
        "status": "Completed",
        "quantity": 3,
    }
    assert "no event with id 'evt-404'" in await failed("event", "read", external_id="evt-404")


async def test_await_event_returns_pending_events_times_out_and_stops(
    store: tempo_store.EventStore,
) -> None:
    await ok("subscription", "create", input={"name": "waiter"})
    await store.record(batch_event("w-1"))
    at_once = await ok("subscription", "await_event", external_id="waiter", input={})
    assert at_once["output"]["outcome"] == "received"
    assert at_once["output"]["request_id"] == "w-1"
    await ok("subscription", "acknowledge", external_id="waiter", input={})

    short = await ok(
        "subscription", "await_event", external_id="waiter", input={"timeout_seconds": 0.05}
    )
    assert short["output"] == {
        "outcome": "timeout",
        "request_id": "",
        "event_type": "",
        "event_trigger": "",
        "received_at": "",
    }

    # An event recorded while the action waits ends the wait.
    outputs: list[dict[str, Any]] = []

    async def wait() -> None:
        outputs.append(
            await ok(
                "subscription", "await_event", external_id="waiter", input={"timeout_seconds": 60}
            )
        )

    async with anyio.create_task_group() as group:
        group.start_soon(wait)
        await until(lambda: store.waiting == 1)
        await store.record(batch_event("w-2"))
    assert outputs[0]["output"]["outcome"] == "received"
    assert outputs[0]["output"]["request_id"] == "w-2"
    await ok("subscription", "acknowledge", external_id="waiter", input={})

    store.stop_waiting()
    stopped = await ok(
        "subscription", "await_event", external_id="waiter", input={"timeout_seconds": 60}
    )
    assert stopped["output"]["outcome"] == "stopped"
    missing = await failed("subscription", "await_event", external_id="nobody", input={})
    assert "no subscription named 'nobody'" in missing


async def test_health_counts_events_and_turns_degraded_on_refused_deliveries(
    store: tempo_store.EventStore,
) -> None:
    async def health() -> dict[str, Any]:
        async with app.serving():  # as the runner does: checks take the store by type
            report = await app.check_health()
        assert report is not None
        [item] = report.to_wire()["health_reports"]
        assert item["type"] == "event"
        return dict(item)

    assert await health() == {
        "type": "event",
        "status": "healthy",
        "message": "0 event(s) received",
    }
    await store.record(batch_event("h-1"))
    received = await health()
    assert received["message"].startswith("1 event(s) received, the last at ")
    store.note_refusal()
    refused = await health()
    assert refused["status"] == "degraded"
    assert refused["message"].startswith("1 delivery(ies) refused for bad or missing credentials")


async def test_a_redelivery_is_stored_once_even_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    async with EventStore.open(path) as first:
        assert (await first.record(batch_event("once"))).new
    async with EventStore.open(path) as reopened:
        again = await reopened.record(batch_event("once", status="Other"))
        assert not again.new
        assert not again.same_body
        assert json.loads(again.event.payload)["status"] == "Completed"
        assert (await reopened.count())[0] == 1


async def test_the_lifespan_opens_the_database_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPO_EVENTS_DATABASE", str(tmp_path / "lifespan.sqlite3"))
    created = await ok("subscription", "create", input={"name": "from-env"})
    assert created["resource"]["external_id"] == "from-env"
    assert (tmp_path / "lifespan.sqlite3").is_file()


def test_a_database_in_a_missing_directory_is_a_settings_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPO_EVENTS_DATABASE", str(tmp_path / "missing" / "events.sqlite3"))
    with pytest.raises(tempest.SettingsError) as caught:
        tempest.load_settings(tempo_app.StoreSettings)
    message = str(caught.value)
    assert "environment variable TEMPO_EVENTS_DATABASE" in message
    assert "does not exist: create it" in message


def test_waiting_for_an_event_works_on_trio_too(tmp_path: Path) -> None:
    """The store waits and wakes with anyio primitives, so the app runs on either backend."""

    async def scenario() -> list[str]:
        outcomes: list[str] = []
        async with EventStore.open(tmp_path / "trio.sqlite3") as opened:
            with app.overriding_state(opened):
                await ok("subscription", "create", input={"name": "on-trio"})

                async def wait() -> None:
                    output = (
                        await ok(
                            "subscription",
                            "await_event",
                            external_id="on-trio",
                            input={"timeout_seconds": 60},
                        )
                    )["output"]
                    outcomes.append(f"{output['outcome']} {output['request_id']}")

                async with anyio.create_task_group() as group:
                    group.start_soon(wait)
                    await until(lambda: opened.waiting == 1)
                    await opened.record(batch_event("t-1"))
        return outcomes

    pytest.importorskip("trio")
    assert anyio.run(scenario, backend="trio") == ["received t-1"]
