"""The testing kit never changes data it did not create, and cleans up what it did.

A small fake external system holds pre-existing data, as a real deployment platform
would; the app's handlers change it for real.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.testing import Step, exercise


class Env(BaseModel):
    name: str


class FakeSystem:
    """An external system with one environment nobody may lose: `prod`."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, str]] = {"prod": {"name": "production"}}
        self.changes: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def create(self, name: str) -> str:
        external_id = f"env-{next(self._ids)}"
        self.items[external_id] = {"name": name}
        self.changes.append(("create", external_id))
        return external_id

    def change(self, what: str, external_id: str) -> None:
        if external_id not in self.items:
            raise tempest.ResourceNotFoundError(f"no environment {external_id!r}")
        self.changes.append((what, external_id))
        if what == "delete":
            del self.items[external_id]


def platform_app(system: FakeSystem, *, with_create: bool = True) -> tempest.App:
    app = tempest.App("platform", "v1")
    env = app.resource("environment", description="d", properties=Env)

    def resource(external_id: str) -> tempest.Resource:
        item = system.items[external_id]
        return tempest.Resource(external_id=external_id, display_name=item["name"], properties=item)

    if with_create:

        @env.create
        def create(input: Env) -> tempest.Resource:
            return resource(system.create(input.name))

    @env.read
    def read(current: tempest.Resource) -> tempest.Resource:
        if current.external_id not in system.items:
            raise tempest.ResourceNotFoundError(current.external_id)
        return resource(current.external_id)

    @env.update
    def update(current: tempest.Resource, input: Env) -> tempest.Resource:
        system.change("update", current.external_id)
        system.items[current.external_id] = {"name": input.name}
        return resource(current.external_id)

    @env.delete
    def delete(current: tempest.Resource) -> None:
        system.change("delete", current.external_id)

    @env.list
    def listing() -> list[tempest.Resource]:
        return [resource(external_id) for external_id in system.items]

    @env.action("redeploy", description="d")
    def redeploy(current: tempest.Resource) -> dict[str, bool]:
        system.change("redeploy", current.external_id)
        return {"redeployed": True}

    return app


async def test_the_default_steps_change_only_what_they_created_and_clean_it_up() -> None:
    system = FakeSystem()
    results = await exercise(platform_app(system))
    assert not any(r.failed for r in results), [r.to_json() for r in results]
    assert system.items == {"prod": {"name": "production"}}  # untouched, and nothing left
    assert all(external_id != "prod" for _, external_id in system.changes)
    assert [what for what, _ in system.changes] == ["create", "update", "redeploy", "delete"]


async def test_without_a_create_nothing_is_changed_and_the_skips_say_why() -> None:
    system = FakeSystem()
    results = await exercise(platform_app(system, with_create=False))
    assert system.changes == []
    statuses = {r.step.name: r.status for r in results}
    assert statuses == {
        "list": "ok",
        "read": "ok",  # reading a listed resource changes nothing
        "update": "skipped",
        "redeploy": "skipped",
        "delete": "skipped",
    }
    skipped = next(r for r in results if r.step.name == "update")
    assert "'prod', which this run did not create" in skipped.message
    assert not any(r.failed for r in results)


async def test_what_a_run_created_is_deleted_at_the_end_even_without_a_delete_step() -> None:
    system = FakeSystem()
    steps = [Step("platform", "v1", "environment", "create", {"name": "staging"})]
    results = await exercise(platform_app(system), steps=steps)
    assert [(r.step.label, r.status) for r in results] == [
        ("environment.create", "ok"),
        ("environment.delete (clean-up)", "ok"),
    ]
    assert system.items == {"prod": {"name": "production"}}


async def test_acting_on_existing_resources_needs_the_explicit_opt_in() -> None:
    system = FakeSystem()
    await exercise(platform_app(system, with_create=False), act_on_existing=True)
    assert ("update", "prod") in system.changes and ("delete", "prod") in system.changes


def test_serve_on_the_emulator_passes_a_read_and_list_only_app(tmp_path: Path) -> None:
    (tmp_path / "readonly_app.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel

            import tempest_sdk as tempest

            app = tempest.App("catalog", "v1")


            class Item(BaseModel):
                name: str


            item = app.resource("item", description="d", properties=Item)


            @item.read
            def read(current: tempest.Resource) -> tempest.Resource:
                return tempest.Resource(display_name="x", properties={"name": "x"})


            @item.list
            def listing() -> list[tempest.Resource]:
                found = tempest.Resource(external_id="i1", properties={"name": "x"})
                return [found.model_copy(update={"display_name": "x"})]
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "tempest_sdk", "serve", "readonly_app.py", "--emulator"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2/2 tasks reported ok" in result.stdout
