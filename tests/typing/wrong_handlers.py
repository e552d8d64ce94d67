"""Wrong handlers, one per case: mypy --strict and pyright (strict) reject each of them.

Not a test module: `tests/test_typing.py` type-checks this file and expects an error
on each line marked `# expect-error`, and nowhere else. It also calls each case with a
fresh resource type to show the runtime refuses the same handler at registration.
"""

# pyright: strict

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import tempest_sdk as tempest


class NewNote(BaseModel):
    title: str


class ExportOutput(BaseModel):
    url: str


def create_returning_int(note: tempest.ResourceType) -> None:
    @note.create  # expect-error
    def create(input: NewNote) -> int:
        return 1


def async_create_returning_none(note: tempest.ResourceType) -> None:
    @note.create(timeout=5)  # expect-error
    async def create(ctx: tempest.Context, input: NewNote) -> None:
        ctx.logger.info("forgot to return the resource")


def create_returning_a_health(note: tempest.ResourceType) -> None:
    @note.create(input_schema={"type": "object"})  # expect-error
    def create(input: dict[str, Any]) -> tempest.Health:
        return tempest.Health.healthy()


def read_returning_optional(note: tempest.ResourceType) -> None:
    @note.read  # expect-error
    async def read(resource: tempest.Resource) -> tempest.Resource | None:
        return None


def update_returning_a_dict(note: tempest.ResourceType) -> None:
    @note.update(timeout=5)  # expect-error
    def update(resource: tempest.Resource, input: NewNote) -> dict[str, Any]:
        return {"title": input.title}


def delete_returning_int(note: tempest.ResourceType) -> None:
    @note.delete  # expect-error
    def delete(resource: tempest.Resource) -> int:
        return 0


def async_delete_returning_bool(note: tempest.ResourceType) -> None:
    @note.delete(timeout=5)  # expect-error
    async def delete(resource: tempest.Resource) -> bool:
        return True


def list_returning_str(note: tempest.ResourceType) -> None:
    @note.list  # expect-error
    def list_notes(cursor: str) -> str:
        return cursor


def list_returning_one_resource(note: tempest.ResourceType) -> None:
    @note.list(timeout=5)  # expect-error
    async def list_notes(cursor: str) -> tempest.Resource:
        return tempest.Resource(external_id=cursor)


def list_returning_ids(note: tempest.ResourceType) -> None:
    @note.list  # expect-error
    async def list_notes() -> list[str]:
        return []


def health_check_returning_none(note: tempest.ResourceType) -> None:
    @note.health_check  # expect-error
    async def health() -> None:
        return None


def health_check_returning_bool(note: tempest.ResourceType) -> None:
    @note.health_check(timeout=5)  # expect-error
    def health(ctx: tempest.Context) -> bool:
        return True


def action_returning_int(note: tempest.ResourceType) -> None:
    @note.action("count")  # expect-error
    def count(resource: tempest.Resource) -> int:
        return 1


def action_returning_str(note: tempest.ResourceType) -> None:
    @note.action("export", description="Export the note.")  # expect-error
    async def export(resource: tempest.Resource) -> str:
        return resource.external_id


def action_returning_a_list(note: tempest.ResourceType) -> None:
    @note.action("export-all")  # expect-error
    async def export(resource: tempest.Resource) -> list[ExportOutput]:
        return []
