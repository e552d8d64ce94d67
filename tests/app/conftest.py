"""Helpers of the app-model tests: tasks from plain dicts, reports checked against the contract."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry

from tempest_sdk.models import Task, TaskReport, parse_task

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "contract" / "contract_schemas.json"
# Copies of shared/fixtures/go-examples (test_schema checks they still match).
GO_FIXTURES = Path(__file__).resolve().parent / "go_examples"
SHARED_GO_FIXTURES = ROOT.parent / "shared" / "fixtures" / "go-examples"

METADATA: dict[str, Any] = {
    "owners": [{"email": "ada@example.com", "name": "Ada", "type": "user"}],
    "author": {"email": "ada@example.com", "name": "Ada", "type": "user"},
    "project_id": "proj-1",
    "project_name": "Demo",
}

# The ReportResponse of the contract, for when the contract stream's copy is absent:
# `response` may be null (Tempest's own client reports errors so).
_RESOURCE = {
    "type": "object",
    "required": ["display_name", "external_id", "type"],
    "properties": {
        "type": {"type": "string"},
        "external_id": {"type": "string"},
        "display_name": {"type": "string"},
        "properties": {"type": ["object", "null"]},
        "links": {
            "type": ["object", "null"],
            "properties": {
                "links": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["title", "url", "type"],
                        "properties": {
                            "type": {
                                "enum": [
                                    "documentation",
                                    "administration",
                                    "support",
                                    "endpoint",
                                    "external",
                                ]
                            }
                        },
                    },
                }
            },
        },
    },
}
FALLBACK_REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["response", "task_id", "status"],
    "properties": {
        "task_id": {"type": "string"},
        "status": {"enum": ["ok", "error"]},
        "message": {"type": "string"},
        "response": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["response_type", "resource"],
                    "properties": {
                        "response_type": {"const": "execute_resource_operation"},
                        "resource": _RESOURCE,
                    },
                },
                {
                    "type": "object",
                    "required": ["response_type", "output"],
                    "properties": {
                        "response_type": {"const": "execute_resource_action"},
                        "output": {"type": "object"},
                    },
                },
                {
                    "type": "object",
                    "required": ["response_type", "resources", "next"],
                    "properties": {
                        "response_type": {"const": "list_resources"},
                        "resources": {"type": "array", "items": _RESOURCE},
                        "next": {"type": "string"},
                    },
                },
            ]
        },
    },
}


@cache
def contract_validator(name: str) -> jsonschema.Draft7Validator:
    """A validator of the contract's schema `name` (from tests/contract when present)."""
    if CONTRACT.exists():
        schemas = json.loads(CONTRACT.read_text("utf-8"))
        schema = {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "definitions": schemas["definitions"],
            "allOf": [{"$ref": f"#/definitions/{name}"}],
        }
    elif name == "ReportResponse":
        schema = FALLBACK_REPORT_SCHEMA
    else:  # pragma: no cover - the contract copy is part of the repository
        pytest.skip(f"no machine-readable contract for {name}")
    return jsonschema.Draft7Validator(schema, registry=Registry())


def assert_contract(name: str, payload: dict[str, Any]) -> None:
    """Fail with every violation if `payload` breaks the contract's schema `name`."""
    errors = sorted(contract_validator(name).iter_errors(payload), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def assert_report(report: TaskReport) -> dict[str, Any]:
    """Check the report's wire form against the contract; return that form."""
    wire = json.loads(report.to_json())
    assert_contract("ReportResponse", wire)
    if wire["status"] == "error":
        assert wire["response"] is None
        assert wire["message"]
    else:
        assert wire["response"] is not None
    return wire


def resource_dict(type: str = "example", external_id: str = "", **extra: Any) -> dict[str, Any]:
    """A task's resource."""
    return {
        "type": type,
        "external_id": external_id,
        "display_name": extra.pop("display_name", ""),
        **extra,
    }


def operation_task(
    operation: str,
    *,
    type: str = "example",
    external_id: str = "",
    input: dict[str, Any] | None = None,
    env: list[dict[str, str]] | None = None,
    task_id: str = "task-1",
    resource: dict[str, Any] | None = None,
) -> Task:
    """An execute_resource_operation task, read as the runner reads it."""
    request: dict[str, Any] = {
        "request_type": "execute_resource_operation",
        "operation": operation,
        "resource": resource or resource_dict(type, external_id),
    }
    if input is not None:
        request["input"] = input
    if env is not None:
        request["environment_variables"] = env
    return parse_task({"task_id": task_id, "task": request, "metadata": METADATA})


def action_task(
    action: str,
    *,
    type: str = "example",
    external_id: str = "ex-1",
    input: dict[str, Any] | None = None,
    env: list[dict[str, str]] | None = None,
    task_id: str = "task-1",
) -> Task:
    """An execute_resource_action task."""
    request: dict[str, Any] = {
        "request_type": "execute_resource_action",
        "action": action,
        "resource": resource_dict(type, external_id),
    }
    if input is not None:
        request["input"] = input
    if env is not None:
        request["environment_variables"] = env
    return parse_task({"task_id": task_id, "task": request, "metadata": METADATA})


def list_task(*, type: str = "example", next: str = "", task_id: str = "task-1") -> Task:
    """A list_resources task."""
    request = {"request_type": "list_resources", "resource": resource_dict(type), "next": next}
    return parse_task({"task_id": task_id, "task": request, "metadata": METADATA})


def go_fixture(name: str) -> dict[str, Any]:
    """A schema of Tempest's Go examples, e.g. `"dashboards/create.json"`."""
    loaded: dict[str, Any] = json.loads((GO_FIXTURES / name).read_text("utf-8"))
    return loaded
