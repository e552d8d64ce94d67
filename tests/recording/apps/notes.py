"""A small app whose tasks are recorded and replayed; `changed=True` is its next
version, whose create handler counts words differently (a regression to catch)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

import tempest_sdk as tempest


class NoteProperties(BaseModel):
    title: str = Field(title="Title")
    words: int = Field(title="Words")


class CreateNote(BaseModel):
    title: str = Field(title="Title")
    # A one-time code the handler registers with ctx.mask: it arrives in the input.
    otp: str = Field("", title="One-time code")
    # A secret field of the input: masked as a declared secret.
    passphrase: SecretStr | None = Field(None, title="Passphrase")


class Shout(BaseModel):
    times: int = Field(1, ge=1)


class Shouted(BaseModel):
    text: str


def build(version: str = "v1", *, changed: bool = False) -> tempest.App:
    """The notes app at `version`; `changed` counts words the new, wrong way."""
    app = tempest.App("notes", version=version)
    note = app.resource(
        "note",
        display_name="Note",
        description="A note with a title.",
        properties=NoteProperties,
        lifecycle_stage="operate",
    )

    @note.create
    async def create(ctx: tempest.Context, input: CreateNote) -> tempest.Resource:
        key = ctx.env.secret("API_KEY") if "API_KEY" in ctx.env.types else ""
        if input.otp:
            ctx.mask(input.otp)
        if input.title == "fail":
            # Both secrets in the message: the report (and the record) must mask them.
            raise RuntimeError(f"refused with key {key} and code {input.otp}")
        if not key:
            raise RuntimeError("no API_KEY given")
        words = len(input.title) if changed else len(input.title.split())
        return tempest.Resource(
            external_id=input.title.lower().replace(" ", "-"),
            display_name=input.title,
            properties={"title": input.title, "words": words},
        )

    @note.read
    def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        if resource.external_id == "missing":
            raise tempest.ResourceNotFoundError(f"no note {resource.external_id!r}")
        title = resource.external_id.replace("-", " ")
        return tempest.Resource(
            external_id=resource.external_id,
            display_name=title,
            properties={"title": title, "words": len(title.split())},
        )

    @note.action("shout", display_name="Shout", description="Say the title loudly.")
    async def shout(ctx: tempest.Context, resource: tempest.Resource, input: Shout) -> Shouted:
        return Shouted(text=" ".join([resource.external_id.upper()] * input.times))

    @note.list
    async def list_notes(ctx: tempest.Context, cursor: str) -> tempest.Page:
        return tempest.Page(
            [
                tempest.Resource(
                    external_id="first-note",
                    display_name="first note",
                    properties={"title": "first note", "words": 2},
                )
            ]
        )

    return app
