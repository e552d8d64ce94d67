from __future__ import annotations

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("notes", "v1")


class NoteProperties(BaseModel):
    title: str = Field(title="Title")
    words: int = Field(title="Words", ge=0)


class NewNote(BaseModel):
    title: str = Field(title="Title", description="What the note is about.")
    text: str = Field("", title="Text")


note = app.resource(
    "note",
    display_name="Note",
    description="A short note.",
    properties=NoteProperties,
    lifecycle_stage="code",
)

_notes: dict[str, NoteProperties] = {}


@note.create
async def create(ctx: tempest.Context, input: NewNote) -> tempest.Resource:
    external_id = f"note-{len(_notes) + 1}"
    _notes[external_id] = NoteProperties(
        title=input.title, words=len(input.text.split())
    )
    ctx.logger.info("created %s", external_id)
    return tempest.Resource(
        external_id=external_id,
        display_name=input.title,
        properties=_notes[external_id].model_dump(),
    )


@note.read
def read(resource: tempest.Resource) -> tempest.Resource:
    found = _notes.get(resource.external_id)
    if found is None:
        raise tempest.ResourceNotFoundError(
            f"no note {resource.external_id!r}"
        )
    return tempest.Resource(
        display_name=found.title, properties=found.model_dump()
    )


if __name__ == "__main__":
    app.run()
