"""Valid handlers of every kind: mypy --strict and pyright (strict) accept all of them.

Not a test module: `tests/test_typing.py` type-checks this file, and imports it to
show the runtime registers every handler too. Handlers take what the SDK injects by
type (`Context`, `Resource`, the input, the cursor, the lifespan's state), in any
order; sync and async; decorators bare and with arguments.
"""

# pyright: strict

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any, assert_type

import pydantic
from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic wants it before Python 3.12

import tempest_sdk as tempest

app = tempest.App("typing-right", "v1")


@dataclasses.dataclass(frozen=True)
class Clients:
    """What the lifespan yields; handlers take it by its type."""

    base_url: str


@app.lifespan
async def clients() -> AsyncIterator[Clients]:
    yield Clients(base_url="https://example.com")


class NoteProperties(BaseModel):
    title: str


class NewNote(BaseModel):
    title: str


@dataclasses.dataclass
class Rename:
    title: str


class Archive(TypedDict):
    reason: str


class ExportOutput(BaseModel):
    url: str


@dataclasses.dataclass
class StatsOutput:
    words: int


class CountOutput(TypedDict):
    count: int


@pydantic.dataclasses.dataclass
class ShareOutput:
    link: str


def _resource(external_id: str = "note-1") -> tempest.Resource:
    return tempest.Resource(
        external_id=external_id, display_name="A note", properties={"title": "A note"}
    )


# -- async handlers, bare decorators ---------------------------------------------------

note = app.resource("note", properties=NoteProperties)


@note.create
async def create_note(ctx: tempest.Context, input: NewNote, clients: Clients) -> tempest.Resource:
    ctx.logger.info("creating %s at %s", input.title, clients.base_url)
    return _resource()


@note.read
async def read_note(resource: tempest.Resource) -> tempest.Resource:
    return resource


@note.update
async def update_note(input: Rename, resource: tempest.Resource) -> tempest.Resource:
    return _resource(resource.external_id)


@note.delete
async def delete_note(resource: tempest.Resource, ctx: tempest.Context) -> None:
    ctx.logger.info("deleting %s", resource.external_id)


@note.list
async def list_notes(cursor: str, clients: Clients) -> tempest.Page:
    return tempest.Page(resources=[_resource()], next="" if cursor else "2")


@note.health_check
async def note_health() -> tempest.Health:
    return tempest.Health.healthy()


@note.action("export", display_name="Export", description="Export the note.")
async def export(resource: tempest.Resource, input: NewNote) -> ExportOutput:
    return ExportOutput(url=f"https://example.com/{resource.external_id}/{input.title}")


@note.action("stats")
async def stats(ctx: tempest.Context) -> StatsOutput:
    return StatsOutput(words=len(ctx.task_id))


@note.action("forget", timeout=5)
async def forget(resource: tempest.Resource) -> None:
    return None


# -- sync handlers, decorators with arguments -----------------------------------------

sticky = app.resource("sticky", properties=NoteProperties, timeout=30)


@sticky.create(input_schema={"type": "object", "properties": {"title": {"type": "string"}}})
def create_sticky(input: dict[str, Any]) -> tempest.Resource:
    return _resource(str(input["title"]))


@sticky.read(timeout=5)
def read_sticky() -> tempest.Resource:
    # A read may take nothing (the runtime accepts it too).
    return _resource()


@sticky.update(input_schema=NewNote, timeout=10)
def update_sticky(resource: tempest.Resource, ctx: tempest.Context, input: NewNote) -> Any:
    return _resource(resource.external_id)


@sticky.delete(timeout=5)
def delete_sticky(resource: tempest.Resource) -> tempest.Resource:
    return resource


@sticky.list(timeout=5)
def list_stickies(cursor: str) -> list[tempest.Resource]:
    return [_resource()] if not cursor else []


@sticky.health_check(timeout=2)
def sticky_health(ctx: tempest.Context, clients: Clients) -> tempest.Health:
    return tempest.Health.degraded(f"{clients.base_url} is slow")


@sticky.action(
    "count",
    description="Count the notes.",
    output_schema={"type": "object", "properties": {"count": {"type": "integer"}}},
)
def count(resource: tempest.Resource) -> dict[str, Any]:
    return {"count": 1}


@sticky.action("count-typed")
def count_typed() -> CountOutput:
    return {"count": 1}


@sticky.action("share", input_schema=NewNote)
def share(input: NewNote) -> ShareOutput:
    return ShareOutput(link=input.title)


# -- other valid shapes -----------------------------------------------------------------

# Another app, without a lifespan: with one declared, registering a TypedDict input
# raises TypeError today (`_handlers._classify` calls issubclass on the TypedDict).
plain = tempest.App("typing-plain", "v1")
memo = plain.resource("memo", properties=NoteProperties)


class CreateMemo:
    """A callable object is a handler too."""

    async def __call__(self, input: NewNote) -> tempest.Resource:
        return _resource(input.title)


create_memo = memo.create(CreateMemo())


@memo.delete
async def delete_memo(resource: tempest.Resource) -> tempest.Resource | None:
    return None if resource.external_id else resource


@memo.list
def list_memos(ctx: tempest.Context, cursor: str) -> Sequence[tempest.Resource]:
    return ()


@memo.health_check
def memo_health(ctx: tempest.Context) -> tempest.Health:
    return tempest.Health.healthy(ctx.resource_type)


@memo.action("archive")
def archive(input: Archive) -> dict[str, str]:
    return {"reason": input["reason"]}


async def check_decorated_names_keep_their_types(ctx: tempest.Context) -> None:
    """Never called: the checkers see that each decorator returns the function unchanged."""
    assert_type(await read_note(_resource()), tempest.Resource)
    assert_type(read_sticky(), tempest.Resource)
    assert_type(list_stickies(""), list[tempest.Resource])
    assert_type(sticky_health(ctx, Clients("")), tempest.Health)
    assert_type(await export(_resource(), NewNote(title="x")), ExportOutput)
    assert_type(create_memo, CreateMemo)
