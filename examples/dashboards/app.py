"""Dashboards: an app whose schemas are raw JSON Schema files, as in Tempest's Go example.

The files in `schema/` are those of the Go example, `$schema` pointing at Tempest's
meta-schemas included; they load offline and go into the connect payload unchanged.
Handlers receive validated dicts with the schemas' defaults applied.

    tempest-sdk serve examples/dashboards/app.py --emulator
"""

from __future__ import annotations

import itertools
from typing import Any

import tempest_sdk as tempest

app = tempest.App("dashboards", "v1")

dashboard = app.resource(
    "dashboard",
    display_name="Dashboard",
    description="A dashboard of a project.",
    # Relative paths are resolved against this file's directory.
    properties=tempest.JSONSchema.from_file("schema/properties.json"),
    lifecycle_stage="monitor",
)

_dashboards: dict[str, dict[str, Any]] = {}
_ids = itertools.count(1)


def _as_resource(properties: dict[str, Any]) -> tempest.Resource:
    return tempest.Resource(
        external_id=properties["id"], display_name=properties["name"], properties=properties
    )


def _existing(resource: tempest.Resource) -> dict[str, Any]:
    found = _dashboards.get(resource.external_id)
    if found is None:
        raise tempest.ResourceNotFoundError(f"no dashboard {resource.external_id!r}")
    return found


@dashboard.create(input_schema=tempest.JSONSchema.from_file("schema/create.json"))
async def create(ctx: tempest.Context, input: dict[str, Any]) -> tempest.Resource:
    """Create a dashboard in the task's project."""
    properties = {"id": f"dash-{next(_ids)}", "name": input["name"]}
    if "description" in input:
        properties["description"] = input["description"]
    properties["project_id"] = ctx.metadata.project_id
    _dashboards[properties["id"]] = properties
    return _as_resource(properties)


@dashboard.read
async def read(resource: tempest.Resource) -> tempest.Resource:
    """Read a dashboard."""
    return _as_resource(_existing(resource))


@dashboard.update(input_schema=tempest.JSONSchema.from_file("schema/update.json"))
async def update(resource: tempest.Resource, input: dict[str, Any]) -> tempest.Resource:
    """Rename or redescribe a dashboard."""
    properties = _existing(resource)
    properties.update(input)
    return _as_resource(properties)


@dashboard.delete
async def delete(resource: tempest.Resource) -> None:
    """Delete a dashboard."""
    _dashboards.pop(_existing(resource)["id"])


@dashboard.list
async def list_dashboards(cursor: str) -> tempest.Page:
    """All dashboards in one page."""
    return tempest.Page(resources=[_as_resource(p) for p in _dashboards.values()])


if __name__ == "__main__":
    app.run()
