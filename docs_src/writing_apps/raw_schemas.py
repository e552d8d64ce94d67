from __future__ import annotations

from typing import Any

import tempest_sdk as tempest

app = tempest.App("buckets", "v1")

# Tempest's own meta-schema: read as draft-07, never downloaded.
META_SCHEMA = (
    "https://developer.tempestdx.com/schema/v1/tempest-properties-schema.json"
)

PROPERTIES = tempest.JSONSchema(
    {
        "$schema": META_SCHEMA,
        "type": "object",
        "properties": {
            "name": {"type": "string", "title": "Name"},
            "region": {"type": "string", "title": "Region"},
        },
        "required": ["name", "region"],
        "additionalProperties": False,
    }
)
CREATE = {
    "type": "object",
    "properties": {
        "name": {
            "type": "string",
            "title": "Name",
            "pattern": "^[a-z0-9-]+$",
        },
        "region": {"type": "string", "enum": ["eu", "us"], "default": "eu"},
    },
    "required": ["name"],
    "additionalProperties": False,
}

bucket = app.resource("bucket", properties=PROPERTIES)


@bucket.create(input_schema=CREATE)
async def create(input: dict[str, Any]) -> tempest.Resource:
    # `input` is validated, and "region" defaults to "eu".
    return tempest.Resource(
        external_id=input["name"],
        display_name=input["name"],
        properties=input,
    )
