from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("notes", "v2")


class NoteProperties(BaseModel):
    title: str = Field(title="Title")


class Rename(BaseModel):
    title: str = Field(title="New title")


class ExportInput(BaseModel):
    format: Literal["markdown", "html"] = "markdown"


class ExportOutput(BaseModel):
    url: str = Field(title="Download URL")


note = app.resource("note", properties=NoteProperties, timeout=30)
_notes: dict[str, str] = {
    "note-1": "Groceries",
    "note-2": "Ideas",
    "note-3": "Todo",
}


def _resource(external_id: str) -> tempest.Resource:
    title = _notes[external_id]
    return tempest.Resource(
        external_id=external_id,
        display_name=title,
        properties={"title": title},
    )


@note.update
async def update(
    resource: tempest.Resource, input: Rename
) -> tempest.Resource:
    _notes[resource.external_id] = input.title
    return _resource(resource.external_id)


@note.delete
async def delete(resource: tempest.Resource) -> None:
    _notes.pop(resource.external_id, None)


@note.list
async def list_notes(cursor: str) -> tempest.Page:
    ids = sorted(_notes)
    start = int(cursor or 0)
    end = start + 2
    return tempest.Page(
        resources=[_resource(i) for i in ids[start:end]],
        next=str(end) if end < len(ids) else "",
    )


@note.action(
    "export", display_name="Export", description="Export the note as a file."
)
async def export(
    resource: tempest.Resource, input: ExportInput
) -> ExportOutput:
    return ExportOutput(
        url=f"https://notes.example.com/{resource.external_id}.{input.format}"
    )


@note.health_check(timeout=5)
async def health() -> tempest.Health:
    if not _notes:
        return tempest.Health.degraded("no notes yet")
    return tempest.Health.healthy()
