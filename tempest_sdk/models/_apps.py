"""What an app declares (connect) and reports about itself (health)."""

from __future__ import annotations

from typing import Any

from ._base import WireModel
from ._enums import HealthStatus
from ._resources import Links


class ActionDefinition(WireModel):
    """A named action of a resource type, with its input and output schemas."""

    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    input_json_schema: dict[str, Any] | None = None
    output_json_schema: dict[str, Any] | None = None


class ResourceDefinition(WireModel):
    """A resource type as declared on connect."""

    type: str
    display_name: str
    description: str
    lifecycle_stage: str
    list_supported: bool = False
    read_supported: bool = False
    create_supported: bool = False
    update_supported: bool = False
    delete_supported: bool = False
    healthcheck_supported: bool = False
    property_json_schema: dict[str, Any] | None = None
    create_input_schema: dict[str, Any] | None = None
    update_input_schema: dict[str, Any] | None = None
    links: Links | None = None
    instructions_markdown: str | None = None
    actions: list[ActionDefinition] | None = None


class ConnectRequest(WireModel):
    """The body of `apps.version.connect`: every resource type of one app version."""

    app_id: str
    version: str
    resources: list[ResourceDefinition]


class AppRequest(WireModel):
    """An app version, as `apps.operations.next` asks for it."""

    app_id: str
    version: str


class AppHealthReportItem(WireModel):
    """The health of one resource type."""

    type: str
    status: HealthStatus
    message: str | None = None


class AppHealthReportRequest(WireModel):
    """The body of `apps.versions.health`: one item per resource type."""

    app_id: str
    version: str
    health_reports: list[AppHealthReportItem]
