"""The examples work end to end through dispatch (the CLI serves them against the emulator)."""

from __future__ import annotations

import runpy
from typing import Any

import tempest_sdk as tempest

from .conftest import ROOT, action_task, assert_report, list_task, operation_task, resource_dict


def fresh(name: str) -> tempest.App:
    app = runpy.run_path(str(ROOT / "examples" / name / "app.py"))["app"]
    assert isinstance(app, tempest.App)
    return app


async def run(app: tempest.App, task: Any) -> dict[str, Any]:
    return assert_report(await app.dispatch(task, timeout=10))


async def test_helloworld_lifecycle() -> None:
    app = fresh("helloworld")
    created = await run(app, operation_task("create", input={"color": "teal"}))
    assert created["response"]["resource"] == {
        "type": "example",
        "external_id": "example-1",
        "display_name": "Example example-1",
        "properties": {"color": "teal"},
    }
    default = await run(app, operation_task("create"))
    assert default["response"]["resource"]["properties"] == {"color": "red"}
    await run(app, operation_task("create", input={"color": "blue"}))

    read = await run(app, operation_task("read", external_id="example-2"))
    assert read["response"]["resource"]["properties"] == {"color": "red"}
    updated = await run(
        app, operation_task("update", external_id="example-2", input={"color": "lime"})
    )
    assert updated["response"]["resource"]["properties"] == {"color": "lime"}

    first = await run(app, list_task())
    assert [r["external_id"] for r in first["response"]["resources"]] == ["example-1", "example-2"]
    assert first["response"]["next"] == "2"
    second = await run(app, list_task(next="2"))
    assert [r["external_id"] for r in second["response"]["resources"]] == ["example-3"]
    assert second["response"]["next"] == ""

    painted = await run(
        app, action_task("repaint", external_id="example-1", input={"color": "gold"})
    )
    assert painted["response"]["output"] == {
        "previous_color": "teal",
        "color": "gold",
        "finish": "matte",
    }

    deleted = await run(
        app,
        operation_task("delete", resource=resource_dict("example", "example-1", display_name="E")),
    )
    assert deleted["response"]["resource"]["external_id"] == "example-1"
    gone = await run(app, operation_task("read", external_id="example-1"))
    assert gone["message"] == "read of 'example' failed: resource not found: no example 'example-1'"

    wrong = await run(app, operation_task("create", input={"colour": "x"}))
    assert wrong["message"] == (
        "invalid input for create of 'example': "
        "colour: is not allowed (the schema has no such field)"
    )
    health = await app.check_health()
    assert health is not None
    assert health.health_reports[0].status == "healthy"


async def test_dashboards_lifecycle() -> None:
    app = fresh("dashboards")
    created = await run(app, operation_task("create", type="dashboard", input={"name": "Ops"}))
    assert created["response"]["resource"]["properties"] == {
        "id": "dash-1",
        "name": "Ops",
        "project_id": "proj-1",
    }
    missing = await run(app, operation_task("create", type="dashboard", input={"description": "d"}))
    assert missing["message"] == "invalid input for create of 'dashboard': name: is required"
    updated = await run(
        app,
        operation_task(
            "update", type="dashboard", external_id="dash-1", input={"description": "All"}
        ),
    )
    assert updated["response"]["resource"]["properties"]["description"] == "All"
    listed = await run(app, list_task(type="dashboard"))
    assert len(listed["response"]["resources"]) == 1
    await run(app, operation_task("delete", type="dashboard", external_id="dash-1"))
    gone = await run(app, operation_task("read", type="dashboard", external_id="dash-1"))
    assert gone["status"] == "error"
    assert await app.check_health() is None
