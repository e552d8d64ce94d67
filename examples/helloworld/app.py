"""Helloworld: Tempest's example app, written with tempest_sdk.

One resource type, `example`, whose only property is a colour. It keeps its
resources in memory, so it is self-contained and deterministic: ids are
`example-1`, `example-2`, ... in creation order.

    tempest-sdk serve examples/helloworld/app.py --emulator    # against the local emulator
    python examples/helloworld/app.py                          # against Tempest (TEMPEST_TOKEN)
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

import tempest_sdk as tempest

app = tempest.App("helloworld", "v1")


class ExampleProperties(BaseModel):
    """What Tempest shows for an example resource."""

    color: str = Field(title="Color", description="The color of the resource.")


class ColorInput(BaseModel):
    """What a user fills in to create or recolour an example."""

    model_config = ConfigDict(extra="forbid")

    color: str = Field(default="red", title="Color", description="The color of the resource.")


class RepaintInput(BaseModel):
    """The input of the `repaint` action."""

    model_config = ConfigDict(extra="forbid")

    color: str = Field(title="Color", description="The new color.")
    finish: Literal["matte", "glossy"] = Field(default="matte", title="Finish")


class RepaintOutput(BaseModel):
    """What the `repaint` action answers."""

    previous_color: str = Field(title="Previous color")
    color: str = Field(title="Color")
    finish: str = Field(title="Finish")


example = app.resource(
    "example",
    display_name="Example Resource",
    description="An example resource with a color.",
    properties=ExampleProperties,
    lifecycle_stage="code",
    links=[tempest.Link.documentation("https://docs.tempestdx.com/", "Tempest documentation")],
    instructions="# Example\n\nThis resource is {{ resource.color }}.",
)

# The "external system": a dict. A real app calls the system it integrates.
_store: dict[str, str] = {}
_ids = itertools.count(1)


def _as_resource(external_id: str) -> tempest.Resource:
    return tempest.Resource(
        external_id=external_id,
        display_name=f"Example {external_id}",
        properties={"color": _store[external_id]},
    )


def _existing(resource: tempest.Resource) -> str:
    if resource.external_id not in _store:
        raise tempest.ResourceNotFoundError(f"no example {resource.external_id!r}")
    return resource.external_id


@example.create
async def create(ctx: tempest.Context, input: ColorInput) -> tempest.Resource:
    """Create an example of the requested color."""
    external_id = f"example-{next(_ids)}"
    _store[external_id] = input.color
    ctx.logger.info("created %s for project %s", external_id, ctx.metadata.project_name)
    return _as_resource(external_id)


@example.read
async def read(resource: tempest.Resource) -> tempest.Resource:
    """Read an example as it is now."""
    return _as_resource(_existing(resource))


@example.update
async def update(resource: tempest.Resource, input: ColorInput) -> tempest.Resource:
    """Recolour an example."""
    external_id = _existing(resource)
    _store[external_id] = input.color
    return _as_resource(external_id)


@example.delete
async def delete(resource: tempest.Resource) -> None:
    """Delete an example; the task's resource is reported back."""
    _store.pop(_existing(resource), None)


@example.list
async def list_examples(cursor: str) -> tempest.Page:
    """List examples, two per page; the cursor is the index of the first one."""
    ids = sorted(_store, key=lambda i: int(i.rsplit("-", 1)[1]))
    start = int(cursor) if cursor.isdigit() else 0
    page = ids[start : start + 2]
    next_cursor = str(start + 2) if start + 2 < len(ids) else ""
    return tempest.Page(resources=[_as_resource(i) for i in page], next=next_cursor)


@example.action("repaint", display_name="Repaint", description="Paint the example anew.")
async def repaint(resource: tempest.Resource, input: RepaintInput) -> RepaintOutput:
    """Change the color of an example, and say what it was."""
    external_id = _existing(resource)
    previous, _store[external_id] = _store[external_id], input.color
    return RepaintOutput(previous_color=previous, color=input.color, finish=input.finish)


@example.health_check
async def health() -> tempest.Health:
    """The in-memory store is always there."""
    return tempest.Health.healthy()


if __name__ == "__main__":
    app.run()
