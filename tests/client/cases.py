"""Realistic bodies and answers for every endpoint, shared by client and contract tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tempest_sdk.models import (
    ActionDefinition,
    AppHealthReportItem,
    AppHealthReportRequest,
    ConnectRequest,
    ExecuteResourceActionResponse,
    ExecuteResourceOperationResponse,
    HealthStatus,
    Link,
    Links,
    ListResourcesResponse,
    Resource,
    ResourceDefinition,
    TaskReport,
)

# Free-form objects of the contract: their nulls are data, kept as they are.
_FREE_FORM = frozenset({"properties", "input", "output", "metadata"})


def written(answer: Any, key: str = "") -> Any:
    """`answer` as the SDK writes it back: the same, without the nulls of its objects'
    fields (a null and an absent optional field mean the same to the contract);
    free-form objects keep theirs."""
    if isinstance(answer, dict) and key not in _FREE_FORM:
        return {k: written(v, k) for k, v in answer.items() if v is not None}
    if isinstance(answer, list):
        return [written(item) for item in answer]
    return answer


APP_ID = "helloworld"
VERSION = "v1"

PROPERTIES_SCHEMA: dict[str, Any] = {
    "$schema": "https://developer.tempestdx.com/schema/v1/tempest-properties-schema.json",
    "type": "object",
    "properties": {"color": {"type": "string", "title": "Color"}},
    "required": ["color"],
}

CONNECT = ConnectRequest(
    app_id=APP_ID,
    version=VERSION,
    resources=[
        ResourceDefinition(
            type="example",
            display_name="Example",
            description="An example resource.",
            lifecycle_stage="code",
            create_supported=True,
            read_supported=True,
            list_supported=True,
            healthcheck_supported=True,
            property_json_schema=PROPERTIES_SCHEMA,
            create_input_schema=PROPERTIES_SCHEMA,
            links=Links(links=[Link.documentation("https://example.com/docs")]),
            instructions_markdown="# Example\n\nMakes examples.",
            actions=[
                ActionDefinition(
                    name="rebuild",
                    display_name="Rebuild",
                    description="Trigger a rebuild.",
                    input_json_schema={"type": "object", "properties": {}},
                    output_json_schema={
                        "type": "object",
                        "properties": {"build_id": {"type": "string"}},
                    },
                )
            ],
        ),
        ResourceDefinition(
            type="bucket",
            display_name="Bucket",
            description="A bucket.",
            lifecycle_stage="operate",
        ),
    ],
)

RESOURCE_ANSWER: dict[str, Any] = {
    "id": "res_01",
    "type": "example",
    "external_id": "ext-1",
    "display_name": "Example one",
    "name": None,
    "status": "active",
    "external_url": "https://example.com/ext-1",
    "organization_id": "org_01",
    "created_by": None,
    "created_at": "2024-05-01T12:00:00Z",
    "updated_at": "2024-05-02T08:30:00Z",
    "synced_at": "2024-05-02T08:31:00Z",
    "deleted_at": None,
    "properties": {"color": "red"},
    "links": {"links": [{"title": "Console", "url": "https://example.com/c", "type": "external"}]},
}

OPERATION_RESPONSE = ExecuteResourceOperationResponse(
    resource=Resource(
        type="example",
        external_id="ext-1",
        display_name="Example one",
        properties={"color": "red"},
        links=Links(links=[Link.external("https://example.com/ext-1", "Open")]),
    )
)
ACTION_RESPONSE = ExecuteResourceActionResponse(output={"build_id": "b-42"})
LIST_RESPONSE = ListResourcesResponse(
    resources=[Resource(type="example", external_id="ext-1", display_name="Example one")],
    next="cursor-2",
)

REPORTS: dict[str, TaskReport] = {
    "ok-operation": TaskReport.ok("task-op", OPERATION_RESPONSE),
    "ok-action": TaskReport.ok("task-act", ACTION_RESPONSE, message="built"),
    "ok-list": TaskReport.ok("task-list", LIST_RESPONSE),
    "ok-list-last": TaskReport.ok("task-list", ListResourcesResponse(resources=[])),
    "error": TaskReport.error("task-err", "the bucket already exists"),
}

HEALTH = AppHealthReportRequest(
    app_id=APP_ID,
    version=VERSION,
    health_reports=[
        AppHealthReportItem(type="example", status=HealthStatus.HEALTHY),
        AppHealthReportItem(type="bucket", status=HealthStatus.DEGRADED, message="slow"),
    ],
)

OWNER = {"email": "ada@example.com", "name": "Ada", "type": "user"}
TASK_METADATA: dict[str, Any] = {
    "owners": [OWNER, {"email": "platform@example.com", "name": "Platform", "type": "team"}],
    "author": OWNER,
    "project_id": "prj_01",
    "project_name": "Checkout",
}


def operation_task(operation: str, **extra: Any) -> dict[str, Any]:
    """A `next` answer for an operation task, with environment variables of every kind."""
    task: dict[str, Any] = {
        "request_type": "execute_resource_operation",
        "operation": operation,
        "resource": {"type": "example", "external_id": "ext-1", "display_name": "Example one"},
        "input": {"color": "blue"},
        "environment_variables": [
            {"name": "REGION", "value": "eu-west-1", "type": "variable"},
            {"name": "API_KEY", "value": "sk-live-SECRET", "type": "secret"},
            {"name": "TLS_CERT", "value": "-----BEGIN CERTIFICATE-----", "type": "certificate"},
            {"name": "TLS_KEY", "value": "-----BEGIN PRIVATE KEY-----", "type": "private_key"},
            {"name": "SSH_PUB", "value": "ssh-ed25519 AAAA", "type": "public_key"},
        ],
        "metadata": {"trace": "abc"},
        **extra,
    }
    return {"task_id": f"task-{operation}", "task": task, "metadata": TASK_METADATA}


TASK_ANSWERS: dict[str, dict[str, Any]] = {
    "create": operation_task("create"),
    "read": operation_task("read"),
    "update": operation_task("update"),
    "delete": operation_task("delete"),
    "action": {
        "task_id": "task-action",
        "task": {
            "request_type": "execute_resource_action",
            "action": "rebuild",
            "resource": RESOURCE_ANSWER,
            "input": {"force": True},
            "environment_variables": [{"name": "TOKEN", "value": "t-SECRET", "type": "secret"}],
        },
        "metadata": TASK_METADATA,
    },
    "list-first": {
        "task_id": "task-list-1",
        "task": {
            "request_type": "list_resources",
            "resource": {"type": "example", "external_id": "", "display_name": ""},
            "next": "",
        },
        "metadata": TASK_METADATA,
    },
    "list-next": {
        "task_id": "task-list-2",
        "task": {
            "request_type": "list_resources",
            "resource": {"type": "example", "external_id": "", "display_name": ""},
            "next": "cursor-2",
        },
        "metadata": TASK_METADATA,
    },
    "unknown-fields": {
        "task_id": "task-future",
        "priority": 3,
        "task": {
            "request_type": "execute_resource_operation",
            "operation": "create",
            "resource": {
                "type": "example",
                "external_id": "",
                "display_name": "",
                "region": "eu",
                "links": {"links": [], "pinned": True},
            },
            "input": {"color": "green"},
            "dry_run": False,
        },
        "metadata": {**TASK_METADATA, "team_id": "team_9", "author": {**OWNER, "avatar": "x"}},
    },
}

PROJECT_ANSWER: dict[str, Any] = {
    "id": "prj_01",
    "name": "Checkout",
    "organization_id": "org_01",
    "type": "service",
    "created_at": "2024-01-01T00:00:00Z",
    "updated_at": "2024-02-01T00:00:00Z",
    "from_recipe": "rcp_01",
    "published": True,
    "team_id": "team_1",
}

RECIPE_ANSWER: dict[str, Any] = {
    "id": "rcp_01",
    "name": "Go service",
    "type": "service",
    "created_at": "2024-01-01T00:00:00Z",
    "updated_at": "2024-02-01T00:00:00Z",
    "published_at": None,
    "public": False,
    "published": True,
    "team_id": "team_1",
}

STANDARD_OK: dict[str, Any] = {
    "status": "ok",
    "message": "connected",
    "metadata": {"tempest_app_url": "https://app.tempestdx.com/apps/helloworld"},
    "error": None,
}


@dataclass(frozen=True)
class Case:
    """One client method: how to call it, what it must send, what the server answers."""

    method: str
    endpoint: str
    args: tuple[Any, ...]
    sent: dict[str, Any]
    answer: dict[str, Any]
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """A readable pytest id."""
        return self.method


CASES: list[Case] = [
    Case(
        "connect_app_version",
        "/apps.version.connect",
        (CONNECT,),
        CONNECT.to_wire(),
        STANDARD_OK,
    ),
    Case(
        "next_task",
        "/apps.operations.next",
        (APP_ID, VERSION),
        {"app_id": APP_ID, "version": VERSION},
        TASK_ANSWERS["create"],
    ),
    Case(
        "report",
        "/apps.operations.report",
        (REPORTS["ok-operation"],),
        REPORTS["ok-operation"].to_wire(),
        {"status": "ok"},
    ),
    Case("report_health", "/apps.versions.health", (HEALTH,), HEALTH.to_wire(), {"status": "ok"}),
    Case("get_resource", "/resources.get", ("res_01",), {"id": "res_01"}, RESOURCE_ANSWER),
    Case(
        "list_resources",
        "/resources.list",
        (),
        {},
        {"response_type": "list_resources", "resources": [RESOURCE_ANSWER], "next": ""},
    ),
    Case("get_project", "/projects.get", ("prj_01",), {"id": "prj_01"}, PROJECT_ANSWER),
    Case("list_projects", "/projects.list", (), {}, {"projects": [PROJECT_ANSWER], "next": ""}),
    Case("get_recipe", "/recipes.get", ("rcp_01",), {"id": "rcp_01"}, RECIPE_ANSWER),
    Case("list_recipes", "/recipes.list", (), {}, {"recipes": [RECIPE_ANSWER], "next": ""}),
]
CASE_IDS = [case.id for case in CASES]
