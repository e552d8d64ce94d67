"""A first app: greetings that Tempest can create, list, read and delete."""

from __future__ import annotations

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("greetings", "v1")


class Greeting(BaseModel):
    name: str = Field(title="Name", description="Who to greet.")


greeting = app.resource(
    "greeting",
    display_name="Greeting",
    description="A greeting for someone.",
    properties=Greeting,
    lifecycle_stage="code",
)

# A real app calls another system here; a dict keeps the sample short.
_greetings: dict[str, Greeting] = {}


def _resource(external_id: str) -> tempest.Resource:
    found = _greetings.get(external_id)
    if found is None:
        raise tempest.ResourceNotFoundError(f"no greeting {external_id!r}")
    return tempest.Resource(
        external_id=external_id,
        display_name=f"Hello, {found.name}!",
        properties=found,
    )


@greeting.create
async def create(input: Greeting) -> tempest.Resource:
    external_id = f"greeting-{len(_greetings) + 1}"
    _greetings[external_id] = input
    return _resource(external_id)


@greeting.read
async def read(resource: tempest.Resource) -> tempest.Resource:
    return _resource(resource.external_id)


@greeting.delete
async def delete(resource: tempest.Resource) -> None:
    _greetings.pop(resource.external_id, None)


@greeting.list
async def list_greetings(cursor: str) -> tempest.Page:
    # One page holds everything: "" says there is no next page.
    return tempest.Page(resources=[_resource(i) for i in _greetings], next="")


if __name__ == "__main__":
    app.run()  # against Tempest: reads TEMPEST_TOKEN; stops on SIGINT/SIGTERM
