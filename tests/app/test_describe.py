"""`app.describe()`: the connect payload, checked against the contract."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import tempest_sdk as tempest

from .conftest import ROOT, assert_contract, go_fixture


def load_example(name: str) -> tempest.App:
    app = runpy.run_path(str(ROOT / "examples" / name / "app.py"))["app"]
    assert isinstance(app, tempest.App)
    return app


def test_helloworld_payload_matches_the_contract() -> None:
    payload = load_example("helloworld").describe().to_wire()
    assert_contract("ConnectRequest", payload)
    (example,) = payload["resources"]
    assert {k: v for k, v in example.items() if k.endswith("_supported")} == {
        "list_supported": True,
        "read_supported": True,
        "create_supported": True,
        "update_supported": True,
        "delete_supported": True,
        "healthcheck_supported": True,
    }
    assert example["links"] == {
        "links": [
            {
                "title": "Tempest documentation",
                "url": "https://docs.tempestdx.com/",
                "type": "documentation",
            }
        ]
    }
    assert example["lifecycle_stage"] == "code"
    assert example["instructions_markdown"].startswith("# Example")
    assert example["property_json_schema"]["required"] == ["color"]
    assert example["create_input_schema"]["properties"]["color"]["default"] == "red"
    assert example["create_input_schema"]["additionalProperties"] is False
    (repaint,) = example["actions"]
    assert repaint["name"] == "repaint"
    assert repaint["input_json_schema"]["properties"]["finish"]["enum"] == ["matte", "glossy"]
    assert repaint["output_json_schema"]["required"] == ["previous_color", "color", "finish"]


def test_raw_schema_app_payload_matches_the_contract_and_go() -> None:
    """Mirrors Go `Describe`: raw schemas pass through; flags follow registered handlers."""
    payload = load_example("dashboards").describe().to_wire()
    assert_contract("ConnectRequest", payload)
    (dashboard,) = payload["resources"]
    assert dashboard["property_json_schema"] == go_fixture("dashboards/properties.json")
    assert dashboard["create_input_schema"] == go_fixture("dashboards/create.json")
    assert dashboard["update_input_schema"] == go_fixture("dashboards/update.json")
    assert dashboard["healthcheck_supported"] is False
    assert "actions" not in dashboard
    assert "links" not in dashboard


def test_every_field_of_a_resource_definition() -> None:
    """Go's `Describe` fills the same fields; its CLI drops actions, which we keep."""

    class Props(BaseModel):
        size: int

    class Step(BaseModel):
        steps: int = 1

    app = tempest.App("full", "v2")
    thing = app.resource(
        "thing",
        display_name="Thing",
        description="A thing.",
        properties=Props,
        lifecycle_stage="operate",
        links=[tempest.Link.external("https://x.example", "X"), tempest.Link.support("https://s")],
        instructions="Use it.",
    )
    other = app.resource("other")

    @thing.update
    def update(input: Step) -> tempest.Resource:
        raise NotImplementedError

    @thing.action("nudge", display_name="Nudge", description="Nudge it.")
    def nudge(input: Step) -> Step:
        raise NotImplementedError

    @other.health_check
    def health() -> tempest.Health:
        raise NotImplementedError

    payload = app.describe().to_wire()
    assert_contract("ConnectRequest", payload)
    step_schema = {
        "properties": {"steps": {"default": 1, "title": "Steps", "type": "integer"}},
        "title": "Step",
        "type": "object",
    }
    assert payload == {
        "app_id": "full",
        "version": "v2",
        "resources": [
            {
                "type": "thing",
                "display_name": "Thing",
                "description": "A thing.",
                "lifecycle_stage": "operate",
                "list_supported": False,
                "read_supported": False,
                "create_supported": False,
                "update_supported": True,
                "delete_supported": False,
                "healthcheck_supported": False,
                "property_json_schema": {
                    "properties": {"size": {"title": "Size", "type": "integer"}},
                    "required": ["size"],
                    "title": "Props",
                    "type": "object",
                },
                "update_input_schema": step_schema,
                "links": {
                    "links": [
                        {"title": "X", "url": "https://x.example", "type": "external"},
                        {"title": "Support", "url": "https://s", "type": "support"},
                    ]
                },
                "instructions_markdown": "Use it.",
                "actions": [
                    {
                        "name": "nudge",
                        "display_name": "Nudge",
                        "description": "Nudge it.",
                        "input_json_schema": step_schema,
                        "output_json_schema": step_schema,
                    }
                ],
            },
            {
                "type": "other",
                "display_name": "Other",
                "description": "",
                "lifecycle_stage": "other",
                "list_supported": False,
                "read_supported": False,
                "create_supported": False,
                "update_supported": False,
                "delete_supported": False,
                "healthcheck_supported": True,
            },
        ],
    }


def test_actions_without_schemas_describe_any_object() -> None:
    """Go `AddActionDefinition` defaults both schemas to its generic empty schema."""
    app = tempest.App("hello", "v1")
    example = app.resource("example")

    @example.action("go")
    def go() -> None:
        return None

    (action,) = app.describe().resources[0].actions or []
    assert action.display_name == "go"
    assert action.input_json_schema == {"type": "object", "properties": {}}
    assert action.output_json_schema == {"type": "object", "properties": {}}


def test_describe_returns_copies() -> None:
    app = load_example("dashboards")
    first = app.describe()
    schema: dict[str, Any] = first.resources[0].property_json_schema or {}
    schema["properties"].clear()
    assert app.describe().resources[0].property_json_schema == go_fixture(
        "dashboards/properties.json"
    )
    properties_schema = app.resource_types["dashboard"].properties_schema
    assert properties_schema == go_fixture("dashboards/properties.json")


def test_examples_are_self_contained() -> None:
    for name in ("helloworld", "dashboards"):
        assert (ROOT / "examples" / name / "app.py").is_file()
    assert sorted(p.name for p in Path(ROOT / "examples" / "dashboards" / "schema").iterdir()) == [
        "create.json",
        "properties.json",
        "update.json",
    ]
