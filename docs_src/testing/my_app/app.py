"""The app the testing guide's snippets test: items kept in memory."""

from __future__ import annotations

import itertools

from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("my-app", "v1")
_items: dict[str, str] = {}
_ids = itertools.count(1)


class ItemProperties(BaseModel):
    name: str


class NewItem(BaseModel):
    name: str = "box"


item = app.resource("item", description="An item.", properties=ItemProperties)


@item.create
def create(input: NewItem) -> tempest.Resource:
    external_id = f"item-{next(_ids)}"
    _items[external_id] = input.name
    return tempest.Resource(
        external_id=external_id,
        display_name=input.name,
        properties={"name": input.name},
    )


@item.read
def read(resource: tempest.Resource) -> tempest.Resource:
    if resource.external_id not in _items:
        raise tempest.ResourceNotFoundError(
            f"no item {resource.external_id!r}"
        )
    name = _items[resource.external_id]
    return tempest.Resource(display_name=name, properties={"name": name})


@item.delete
def delete(resource: tempest.Resource) -> None:
    _items.pop(resource.external_id, None)
