from __future__ import annotations

import uuid
from typing import Any

import tempest_sdk as tempest

app = tempest.App("helloworld", "v1")

# Relative to this file, like Go's `//go:embed`.
PROPERTIES = tempest.JSONSchema.from_file("schema/properties.json")
CREATE = tempest.JSONSchema.from_file("schema/create.json")

example = app.resource(
    "example",
    display_name="My Resource",
    description="An example resource.",
    properties=PROPERTIES,
    lifecycle_stage="code",
)


@example.create(input_schema=CREATE)
async def create(input: dict[str, Any]) -> tempest.Resource:
    # `input` was validated against create.json.
    return tempest.Resource(
        external_id=uuid.uuid4().hex,
        display_name="Example resource name",
        properties={"name": input["name"]},
    )


@example.health_check
async def health() -> tempest.Health:
    return tempest.Health.healthy()
