from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

import tempest_sdk as tempest

app = tempest.App("helloworld", "v1")


class Properties(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        title="Name", description="The short name of the resource."
    )


class CreateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        title="Name",
        description="The name of the resource.",
        pattern=r"^[A-Za-z0-9_.-]+$",
        examples=["my-resource"],
    )


example = app.resource(
    "example",
    display_name="My Resource",
    description="An example resource.",
    properties=Properties,
    lifecycle_stage="code",
)


@example.create
async def create(input: CreateInput) -> tempest.Resource:
    return tempest.Resource(
        external_id=uuid.uuid4().hex,
        display_name="Example resource name",
        properties=Properties(name=input.name),
    )


@example.health_check
async def health() -> tempest.Health:
    return tempest.Health.healthy()


if __name__ == "__main__":
    app.run()
