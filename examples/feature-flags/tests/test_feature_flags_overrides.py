"""Typed overrides: one dependency swapped by its type, for `invoke` and the fixtures.

`FlagsApi` is a Protocol: the fake shares no class with `FlagsClient`, it only has the
same methods, and the SDK checks that when the override begins. `FlagSettings` is a
class: its replacement must be one.
"""

# pyright: strict

from __future__ import annotations

from collections.abc import Iterator

import pytest
from feature_flags_harness import APP_ID, VERSION, InMemoryFlags, flag_env
from flags_api import FlagsApi
from flags_app import FlagSettings, app

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner, RunnerThread
from tempest_sdk.testing import invoke

# Nothing listens here: a test that reached Flagpole would fail.
NOWHERE = "http://127.0.0.1:9"


def test_a_fake_flags_api_replaces_the_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    flag_env(monkeypatch, NOWHERE)  # the lifespan still runs: settings first
    fake = InMemoryFlags()
    with app.overriding(FlagsApi, fake):
        created = invoke(app, "flag", "create", input={"key": "dark-mode", "name": "Dark"})
        rolled = invoke(app, "flag", "rollout", external_id="dark-mode", input={})
    assert created.resource.external_id == "dark-mode"
    assert rolled.output == {"key": "dark-mode", "previous": 0, "rollout": 50}
    assert fake.calls == ["create_flag dark-mode", "rollout dark-mode 50"]


def test_a_fake_that_lacks_a_method_is_refused_by_name() -> None:
    class Partial:
        async def ping(self) -> None: ...

    with (
        pytest.raises(TypeError, match=r"Partial is no FlagsApi: it lacks create_flag, "),
        app.overriding(FlagsApi, Partial()),
    ):
        pass


def test_settings_are_replaced_by_a_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    flag_env(monkeypatch, NOWHERE)
    fake = InMemoryFlags()
    one_per_page = tempest.load_settings(FlagSettings, url=NOWHERE, token="t", page_size=1)
    with app.overriding(FlagsApi, fake), app.overriding(FlagSettings, one_per_page):
        for key in ("a-1", "b-2"):
            invoke(app, "flag", "create", input={"key": key, "name": key})
        first = invoke(app, "flag", "list")
        second = invoke(app, "flag", "list", next=first.next_cursor)
    assert [r.external_id for r in first.resources] == ["a-1"]
    assert first.next_cursor == "a-1"
    assert [r.external_id for r in second.resources] == ["b-2"]
    assert second.next_cursor == ""


def test_a_replacement_of_another_type_is_refused() -> None:
    with (
        pytest.raises(TypeError, match="a replacement for FlagSettings must be one"),
        app.overriding(FlagSettings, {"page_size": 1}),
    ):
        pass


# With the pytest fixtures: the override is entered in the `tempest_app` fixture, so it
# holds while `tempest_runner` serves; the settings the lifespan reads come first.
@pytest.fixture
def fake_flags() -> InMemoryFlags:
    return InMemoryFlags()


@pytest.fixture
def tempest_app(
    monkeypatch: pytest.MonkeyPatch, fake_flags: InMemoryFlags
) -> Iterator[tempest.App]:
    flag_env(monkeypatch, NOWHERE)  # 1. settings
    with app.overriding(FlagsApi, fake_flags):  # 2. the override
        yield app  # 3. tempest_runner serves inside it


def test_the_runner_fixture_serves_with_the_override(
    tempest_emulator: Emulator,
    tempest_runner: RunnerThread[Runner],
    fake_flags: InMemoryFlags,
) -> None:
    create = tempest_emulator.enqueue_operation(
        APP_ID, VERSION, "flag", "create", input={"key": "beta", "name": "Beta"}
    )
    tempest_emulator.wait_for_reports(1, timeout=20)
    kill = tempest_emulator.enqueue_action(
        APP_ID, VERSION, "flag", "kill", external_id="beta", input={"reason": "test"}
    )
    tempest_emulator.wait_for_reports(2, timeout=20)

    assert [r["status"] for r in tempest_emulator.reports(create)] == ["ok"]
    (killed,) = tempest_emulator.reports(kill)
    assert killed["response"]["output"] == {"key": "beta", "killed": True, "was_rollout": 0}
    assert fake_flags.flags["beta"].killed
