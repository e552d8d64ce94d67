import pytest
from app import Greetings, GreetingsSettings, GreetingStore, app

from tempest_sdk.testing import invoke


def test_create() -> None:
    # The lifespan runs around the task: default settings, an empty store.
    report = invoke(app, "greeting", "create", input={"name": "Ada"})
    assert report.status == "ok", report.message
    assert report.resource.display_name == "Hello, Ada!"
    assert report.resource.properties == {"name": "Ada"}


def test_read_from_a_swapped_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lifespan still runs, and reads this.
    monkeypatch.setenv("GREETINGS_SALUTATION", "Hi")
    # --8<-- [start:swap]
    with app.overriding(GreetingStore, GreetingStore({"greeting-7": "Ada"})):
        found = invoke(app, "greeting", "read", external_id="greeting-7")
        missing = invoke(app, "greeting", "read", external_id="nobody")
    # --8<-- [end:swap]
    assert found.resource.display_name == "Hi, Ada!"
    assert missing.status == "error"
    assert missing.message == (
        "read of 'greeting' failed: resource not found: no greeting nobody"
    )


def test_list_page_by_page() -> None:
    names = {f"greeting-{i}": name for i, name in enumerate("ABC", 1)}
    # The whole state swapped: the lifespan does not run.
    state = Greetings(
        settings=GreetingsSettings(page_size=2), store=GreetingStore(names)
    )
    with app.overriding_state(state):
        first = invoke(app, "greeting", "list")
        second = invoke(app, "greeting", "list", next=first.next_cursor)
    shown = [r.display_name for r in first.resources]
    assert shown == ["Hello, A!", "Hello, B!"]
    assert first.next_cursor == "2"  # hand it back for the next page
    assert [r.display_name for r in second.resources] == ["Hello, C!"]
    assert second.next_cursor == ""  # the last page
