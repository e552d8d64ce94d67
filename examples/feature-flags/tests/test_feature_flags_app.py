"""The app's handlers through `invoke`, against a real Flagpole on 127.0.0.1.

The app's lifespan runs as in production: it reads FLAGS_* and opens one HTTP client.
"""

# pyright: strict

from __future__ import annotations

import secrets
from collections.abc import Iterator

import anyio
import pytest
from feature_flags_harness import TOKEN, flag_env, running_flagpole
from flags_app import app

from tempest_sdk.testing import invoke


@pytest.fixture(scope="module")
def flagpole() -> Iterator[str]:
    with running_flagpole() as url:
        yield url


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, flagpole: str) -> str:
    flag_env(monkeypatch, flagpole, page_size="2")
    return flagpole


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def test_a_flag_is_created_read_updated_and_deleted(settings_env: str) -> None:
    key = unique("checkout")
    created = invoke(app, "flag", "create", input={"key": key, "name": "New checkout"})
    assert created.status == "ok", created.message
    assert created.resource.external_id == key
    assert created.resource.properties == {
        "key": key,
        "name": "New checkout",
        "description": "",
        "segment": "",
        "rollout": 0,
        "killed": False,
    }

    read = invoke(app, "flag", "read", external_id=key)
    assert read.resource.display_name == "New checkout"
    updated = invoke(app, "flag", "update", external_id=key, input={"name": "Checkout v2"})
    assert updated.resource.display_name == "Checkout v2"
    assert invoke(app, "flag", "delete", external_id=key).status == "ok"

    gone = invoke(app, "flag", "read", external_id=key)
    assert gone.status == "error"
    assert gone.message == (
        f"read of 'flag' failed: resource not found: cannot read flag {key!r}: no flag {key!r}"
    )


def test_a_taken_key_is_a_conflict(settings_env: str) -> None:
    key = unique("dup")
    assert invoke(app, "flag", "create", input={"key": key, "name": "One"}).status == "ok"
    again = invoke(app, "flag", "create", input={"key": key, "name": "Two"})
    # The format docs/testing.md shows: `create of 'item' failed: conflict: ...`.
    assert again.message == (
        f"create of 'flag' failed: conflict: cannot create flag {key!r}: flag {key!r} exists"
    )


def test_the_list_is_paged_by_the_next_cursor(settings_env: str) -> None:
    keys = sorted(unique(f"page{i}") for i in range(5))
    for key in keys:
        assert invoke(app, "flag", "create", input={"key": key, "name": key}).status == "ok"

    seen: list[str] = []
    cursor, pages = "", 0
    while True:
        report = invoke(app, "flag", "list", next=cursor)
        assert report.status == "ok", report.message
        assert len(report.resources) <= 2  # FLAGS_PAGE_SIZE
        seen += [r.external_id for r in report.resources]
        pages += 1
        cursor = report.next_cursor
        if not cursor:
            break
    assert set(keys) <= set(seen)
    assert seen == sorted(seen)
    assert pages >= 3


def test_rollout_and_kill_return_their_typed_outputs(settings_env: str) -> None:
    key = unique("banner")
    invoke(app, "flag", "create", input={"key": key, "name": "Banner"})

    rolled = invoke(app, "flag", "rollout", external_id=key, input={"percentage": 30})
    assert rolled.output == {"key": key, "previous": 0, "rollout": 30}
    killed = invoke(app, "flag", "kill", external_id=key, input={"reason": "500s in EU"})
    assert killed.output == {"key": key, "killed": True, "was_rollout": 30}
    read = invoke(app, "flag", "read", external_id=key)
    assert (read.resource.properties or {})["killed"] is True

    refused = invoke(app, "flag", "rollout", external_id=key, input={"percentage": 10})
    assert refused.status == "error"
    assert refused.message.endswith(f"flag {key!r} is killed (500s in EU)")


def test_input_is_checked_as_the_published_schema_says(settings_env: str) -> None:
    extra = invoke(app, "flag", "create", input={"key": "x-1", "name": "X", "owner": "ada"})
    assert extra.status == "error"
    assert "owner" in extra.message
    bad_key = invoke(app, "flag", "create", input={"key": "Not A Key", "name": "X"})
    assert bad_key.status == "error"
    assert "key" in bad_key.message
    too_much = invoke(app, "flag", "rollout", external_id="x", input={"percentage": 101})
    assert "percentage" in too_much.message
    assert "100" in too_much.message


def test_segments_have_their_own_crud_and_list(settings_env: str) -> None:
    key = unique("beta")
    created = invoke(app, "segment", "create", input={"key": key, "name": "Beta", "rule": "a"})
    assert created.resource.properties == {"key": key, "name": "Beta", "rule": "a"}
    changed = invoke(app, "segment", "update", external_id=key, input={"rule": "b"})
    assert (changed.resource.properties or {})["rule"] == "b"
    listed = invoke(app, "segment", "list")
    assert key in [r.external_id for r in listed.resources]
    assert invoke(app, "segment", "delete", external_id=key).status == "ok"


def test_the_health_check_takes_its_parts_by_type(settings_env: str) -> None:
    report = anyio.run(app.check_health)
    assert report is not None
    assert [(h.type, h.status) for h in report.health_reports] == [("flag", "healthy")]


def test_a_flagpole_that_is_down_makes_the_health_check_disrupted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_flagpole() as url:
        pass  # stopped: nothing listens there any more
    flag_env(monkeypatch, url)
    report = anyio.run(app.check_health)
    assert report is not None
    (health,) = report.health_reports
    assert health.status == "disrupted"
    assert f"Flagpole at {url}" in (health.message or "")
    assert TOKEN not in (health.message or "")
