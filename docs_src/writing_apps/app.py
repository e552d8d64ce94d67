"""Greetings, grown: update, a paged list, an action and a health check."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("greetings", "v1")


class Greeting(BaseModel):
    name: str = Field(title="Name", description="Who to greet.")


class Rename(BaseModel):
    name: str = Field(title="New name")


class SendInput(BaseModel):
    channel: Literal["email", "chat"] = "email"


class Sent(BaseModel):
    message: str = Field(title="Message sent")


greeting = app.resource(
    "greeting",
    display_name="Greeting",
    description="A greeting for someone.",
    properties=Greeting,
    lifecycle_stage="code",
    timeout=30,  # seconds any handler of the type may run
)

# A real app calls another system here; a dict keeps the sample short.
_greetings: dict[str, Greeting] = {}
PAGE_SIZE = 2


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
    if any(g.name == input.name for g in _greetings.values()):
        raise tempest.ResourceConflictError(f"{input.name} has a greeting")
    external_id = f"greeting-{len(_greetings) + 1}"
    _greetings[external_id] = input
    return _resource(external_id)


@greeting.read
async def read(resource: tempest.Resource) -> tempest.Resource:
    return _resource(resource.external_id)


@greeting.update
async def update(
    resource: tempest.Resource, input: Rename
) -> tempest.Resource:
    _resource(resource.external_id)  # not found: says so
    _greetings[resource.external_id] = Greeting(name=input.name)
    return _resource(resource.external_id)


@greeting.delete
async def delete(resource: tempest.Resource) -> None:
    _greetings.pop(resource.external_id, None)


@greeting.list
async def list_greetings(cursor: str) -> tempest.Page:
    # The cursor is whatever the previous page's `next` was: an offset here.
    ids = sorted(_greetings)
    start = int(cursor or 0)
    end = start + PAGE_SIZE
    return tempest.Page(
        resources=[_resource(i) for i in ids[start:end]],
        next=str(end) if end < len(ids) else "",  # "" ends the listing
    )


@greeting.action("send", description="Send the greeting to its person.")
async def send(resource: tempest.Resource, input: SendInput) -> Sent:
    text = _resource(resource.external_id).display_name
    return Sent(message=f"{text} (by {input.channel})")


@greeting.health_check(timeout=5)
async def health() -> tempest.Health:
    if not _greetings:
        return tempest.Health.degraded("no greetings yet")
    return tempest.Health.healthy()


if __name__ == "__main__":
    app.run()  # against Tempest: reads TEMPEST_TOKEN; stops on SIGINT/SIGTERM
