"""Every operation and action of the Temps app, through `tempest_sdk.testing.invoke`,
against the fake Temps in process (small pages, so that lists cross page boundaries)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import tempest_sdk as tempest
from tempest_sdk.models import AppHealthReportRequest, TaskReport
from tempest_sdk.testing import invoke

from .conftest import wired_to
from .fake_temps import FakeTemps, PageShape


def ok(report: TaskReport) -> TaskReport:
    assert report.status == "ok", report.message
    return report


def list_all(app: tempest.App, resource_type: str) -> tuple[list[str], list[str]]:
    """Every external id a listing gives, and the cursors it went through."""
    ids: list[str] = []
    cursors = [""]
    for _ in range(50):
        report = ok(invoke(app, resource_type, "list", next=cursors[-1]))
        ids += [r.external_id for r in report.resources]
        following = report.next_cursor
        if not following:
            return ids, cursors
        cursors.append(following)
    raise AssertionError(f"the listing of {resource_type} did not end after 50 pages")


def test_the_app_declares_four_types_with_what_temps_offers(app: tempest.App) -> None:
    described = {d.type: d for d in app.describe().resources}
    assert list(described) == ["project", "environment", "environment_variable", "deployment"]
    flags = {
        name: (d.create_supported, d.read_supported, d.update_supported, d.delete_supported)
        for name, d in described.items()
    }
    assert flags == {
        "project": (True, True, True, True),
        "environment": (True, True, False, True),
        "environment_variable": (True, True, True, True),
        "deployment": (False, True, False, False),
    }
    assert all(d.list_supported for d in described.values())
    assert described["project"].healthcheck_supported
    actions = {name: [a.name for a in d.actions or []] for name, d in described.items()}
    assert actions == {
        "project": ["trigger_pipeline"],
        "environment": ["update_settings"],
        "environment_variable": [],
        "deployment": ["rollback", "cancel", "pause", "resume"],
    }
    variable = described["environment_variable"]
    value = (variable.create_input_schema or {})["properties"]["value"]
    assert value["writeOnly"] is True
    assert value["format"] == "password"
    assert "value" not in (variable.property_json_schema or {})["properties"]


def test_projects_lifecycle(wired: tempest.App, fake: FakeTemps) -> None:
    created = ok(
        invoke(
            wired,
            "project",
            "create",
            input={"name": "Web Shop", "repo_owner": "acme", "repo_name": "shop"},
        )
    ).resource
    assert created.external_id == "6"
    assert created.display_name == "Web Shop"
    assert created.properties == {
        "id": 6,
        "name": "Web Shop",
        "slug": "web-shop",
        "repo_owner": "acme",
        "repo_name": "shop",
        "main_branch": "main",
        "directory": ".",
        "preset": "nixpacks",
        "created_at": "2026-01-15T12:00:00Z",
    }
    assert fake.tables["projects"][6]["preset"] == "nixpacks"

    read = ok(invoke(wired, "project", "read", external_id="6")).resource
    assert read.properties == created.properties

    renamed = ok(
        invoke(wired, "project", "update", external_id="6", input={"name": "Web Store"})
    ).resource
    assert renamed.properties is not None
    assert (renamed.properties["name"], renamed.properties["slug"]) == ("Web Store", "web-store")
    unchanged = ok(invoke(wired, "project", "update", external_id="6", input={})).resource
    assert unchanged.properties == renamed.properties

    run = ok(
        invoke(wired, "project", "trigger_pipeline", external_id="6", input={"branch": "main"})
    ).output
    assert run == {
        "message": "Pipeline triggered: deployment 6",
        "project_id": 6,
        "environment_id": 6,
        "branch": "main",
    }
    assert fake.tables["deployments"][6]["status"] == "pending"

    ok(invoke(wired, "project", "delete", external_id="6"))
    assert 6 not in fake.tables["projects"]
    assert 6 not in fake.tables["deployments"]
    # Delivered again (at least once): already gone is done.
    ok(invoke(wired, "project", "delete", external_id="6"))


def test_projects_list_maps_temps_pages_onto_the_cursor(wired: tempest.App) -> None:
    ids, cursors = list_all(wired, "project")
    assert ids == ["1", "2", "3", "4", "5"]
    assert cursors == ["", "2", "3"]


def test_environments_lifecycle(wired: tempest.App, fake: FakeTemps) -> None:
    created = ok(
        invoke(
            wired,
            "environment",
            "create",
            input={"project_id": 1, "name": "staging", "branch": "next"},
        )
    ).resource
    assert created.external_id == "1/6"
    assert created.display_name == "staging (project 1)"
    assert created.properties == {
        "project_id": 1,
        "environment_id": 6,
        "name": "staging",
        "slug": "staging",
        "branch": "next",
        "replicas": 1,
    }
    read = ok(invoke(wired, "environment", "read", external_id="1/6")).resource
    assert read.properties == created.properties

    applied = ok(
        invoke(
            wired,
            "environment",
            "update_settings",
            external_id="1/6",
            input={"replicas": 3, "cpu_limit": 2000, "memory_limit": 1024, "exposed_port": 8080},
        )
    ).output
    assert applied == {"cpu_limit": 2000, "memory_limit": 1024, "replicas": 3, "exposed_port": 8080}
    kept = ok(invoke(wired, "environment", "update_settings", external_id="1/6", input={})).output
    assert kept == applied
    assert fake.tables["environments"][6]["replicas"] == 3

    ok(invoke(wired, "environment", "delete", external_id="1/6"))
    assert 6 not in fake.tables["environments"]
    ok(invoke(wired, "environment", "delete", external_id="1/6"))


def test_environments_list_walks_every_project_page_by_page(wired: tempest.App) -> None:
    ids, cursors = list_all(wired, "environment")
    # Project 4 has no environment: skipped without an empty page.
    assert ids == ["1/1", "1/2", "2/3", "3/4", "5/5"]
    assert cursors == ["", "1.1.1", "1.2.1", "2.1.1"]


def test_environment_variables_lifecycle(wired: tempest.App, fake: FakeTemps) -> None:
    created = ok(
        invoke(
            wired,
            "environment_variable",
            "create",
            input={"project_id": 1, "key": "API_KEY", "value": "v-1", "environment_ids": [1]},
        )
    ).resource
    assert created.external_id == "1/4"
    assert created.display_name == "API_KEY (project 1)"
    assert created.properties == {
        "project_id": 1,
        "variable_id": 4,
        "key": "API_KEY",
        "environment_ids": [1],
        "include_in_preview": False,
    }
    read = ok(invoke(wired, "environment_variable", "read", external_id="1/4")).resource
    assert read.properties == created.properties

    updated = ok(
        invoke(
            wired,
            "environment_variable",
            "update",
            external_id="1/4",
            input={"value": "v-2", "include_in_preview": True},
        )
    ).resource
    assert updated.properties is not None
    assert updated.properties["environment_ids"] == [1]  # kept
    assert updated.properties["include_in_preview"] is True
    assert fake.tables["env_vars"][4]["value"] == "v-2"

    ok(invoke(wired, "environment_variable", "delete", external_id="1/4"))
    assert 4 not in fake.tables["env_vars"]


def test_environment_variables_list(wired: tempest.App) -> None:
    ids, _ = list_all(wired, "environment_variable")
    assert ids == ["1/1", "1/2", "2/3"]


def test_deployments_read_and_list_across_pages(wired: tempest.App) -> None:
    read = ok(invoke(wired, "deployment", "read", external_id="1/2")).resource
    assert read.display_name == "Deployment 2 of main"
    assert read.properties == {
        "project_id": 1,
        "deployment_id": 2,
        "environment_id": 1,
        "status": "completed",
        "url": "https://1-1-2.temps.example",
        "branch": "main",
        "commit_hash": "b2c3d4e",
        "commit_message": "Fix checkout",
        "is_current": True,
        "created_at": "2026-01-15T12:00:00Z",
    }
    ids, cursors = list_all(wired, "deployment")
    # Project 1's three span two Temps pages, newest first.
    assert ids == ["1/3", "1/2", "1/1", "2/4", "3/5"]
    assert cursors == ["", "1.0.2", "1.1.1", "1.2.1", "2.1.1"]


def test_deployment_actions(wired: tempest.App, fake: FakeTemps) -> None:
    def act(name: str, external_id: str) -> dict[str, Any]:
        output = ok(invoke(wired, "deployment", name, external_id=external_id)).output
        assert isinstance(output, dict)
        return output

    assert act("rollback", "1/1") == {"deployment_id": 1, "status": "completed", "is_current": True}
    assert fake.tables["deployments"][2]["is_current"] is False
    assert act("pause", "1/3") == {"deployment_id": 3, "status": "paused", "is_current": False}
    assert act("resume", "1/3") == {"deployment_id": 3, "status": "running", "is_current": False}
    assert act("cancel", "1/3") == {"deployment_id": 3, "status": "cancelled", "is_current": False}


def test_health_check_calls_temps(wired: tempest.App) -> None:
    async def check() -> AppHealthReportRequest | None:
        async with wired.serving():
            return await wired.check_health()

    health = anyio.run(check)
    assert health is not None
    [item] = health.health_reports
    assert (item.type, item.status, item.message) == (
        "project",
        "healthy",
        "Temps answers; 5 projects",
    )


@pytest.mark.parametrize("shape", ["seed", "server", "array"])
def test_lists_read_each_shape_of_page(app: tempest.App, shape: PageShape) -> None:
    # The seed documents {"items", "total"}; Temps' own server sends {"projects": [...],
    # "total", "page", "per_page"}; a list that is not paginated is a plain array.
    with wired_to(app, FakeTemps(page_shape=shape)) as wired:
        projects, _ = list_all(wired, "project")
        deployments, _ = list_all(wired, "deployment")
    assert projects == ["1", "2", "3", "4", "5"]
    assert deployments == ["1/3", "1/2", "1/1", "2/4", "3/5"]
