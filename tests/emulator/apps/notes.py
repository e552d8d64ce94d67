"""A small app for the `tempest-sdk enqueue` tests: what a handler saw comes back in its report."""

from __future__ import annotations

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("notes", "v1")


class NoteProperties(BaseModel):
    text: str = Field(title="Text")
    region: str = Field("", title="Region")
    # Whether the handler got the secret it was sent; the value itself never goes back.
    secret_ok: bool = Field(False, title="Secret received")


class NoteInput(BaseModel):
    text: str = Field("hello", title="Text")


note = app.resource(
    "note",
    display_name="Note",
    description="A note that says what its handler saw.",
    properties=NoteProperties,
    lifecycle_stage="code",
)


@note.create
async def create(ctx: tempest.Context, input: NoteInput) -> tempest.Resource:
    secret_ok = "NOTE_KEY" in ctx.env.types and ctx.env.secret("NOTE_KEY") == "s3cr3t-value"
    properties = NoteProperties(
        text=input.text, region=ctx.env.get("REGION", ""), secret_ok=secret_ok
    )
    return tempest.Resource(
        external_id="note-1", display_name=input.text, properties=properties.model_dump()
    )


@note.list
async def list_notes(ctx: tempest.Context, cursor: str) -> tempest.Page:
    return tempest.Page(resources=[], next="")


@note.action("archive", display_name="Archive", description="Always fails.")
async def archive(ctx: tempest.Context, resource: tempest.Resource) -> None:
    raise RuntimeError(f"cannot archive {resource.external_id}: the archive is closed")
