"""Typed resources and reports: properties as the declared model, typed report views."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import BaseModel, Field, ValidationError

import tempest_sdk as tempest
from tempest_sdk.testing import ainvoke


class Props(BaseModel):
    display: str = Field(alias="displayName")
    size: int


@dataclasses.dataclass
class Sized:
    size: int


def test_a_resource_takes_the_declared_properties_model_and_writes_it_by_alias() -> None:
    resource = tempest.Resource(display_name="x", properties=Props(displayName="a", size=2))
    assert resource.properties == {"displayName": "a", "size": 2}
    assert tempest.Resource(properties=Sized(3)).properties == {"size": 3}
    assert resource.properties_as(Props) == Props(displayName="a", size=2)
    assert tempest.Resource(properties={"size": 4}).properties_as(Sized) == Sized(4)


def test_reading_properties_as_a_model_says_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="size"):
        tempest.Resource(properties={"displayName": "a"}).properties_as(Props)
    with pytest.raises(ValueError, match="has no properties to read as Props"):
        tempest.Resource(external_id="r1").properties_as(Props)


def app_with_every_kind() -> tuple[tempest.App, tempest.Resource]:
    app = tempest.App("shop", "v1")
    example = app.resource("example", description="d", properties=Props)
    cached = tempest.Resource(display_name="cached", properties=Props(displayName="c", size=1))

    @example.read
    def read(resource: tempest.Resource) -> tempest.Resource:
        return cached  # the same object every time, without type or external id

    @example.list
    def listing() -> list[tempest.Resource]:
        return [
            tempest.Resource(
                external_id="a", display_name="a", properties={"displayName": "a", "size": 1}
            )
        ]

    class Out(BaseModel):
        done: bool

    @example.action("ping", description="d")
    def ping() -> Out:
        return Out(done=True)

    return app, cached


async def test_typed_views_of_a_report_and_what_they_say_when_it_is_not_theirs() -> None:
    app, _ = app_with_every_kind()
    read = await ainvoke(app, "example", "read", external_id="r1")
    assert read.resource.properties_as(Props).size == 1
    listed = await ainvoke(app, "example", "list")
    assert [resource.external_id for resource in listed.resources] == ["a"]
    pinged = await ainvoke(app, "example", "ping")
    assert pinged.output == {"done": True}
    with pytest.raises(ValueError, match="is not an action's: its response is list_resources"):
        _ = listed.output
    failed = await ainvoke(app, "example", "delete", external_id="r1")
    with pytest.raises(ValueError, match="failed: resource type 'example' does not support delete"):
        _ = failed.resource


async def test_the_handlers_own_resource_is_never_changed() -> None:
    app, cached = app_with_every_kind()
    first = await ainvoke(app, "example", "read", external_id="r1")
    second = await ainvoke(app, "example", "read", external_id="r2")
    assert (first.resource.external_id, second.resource.external_id) == ("r1", "r2")
    assert first.resource.type == "example"
    assert (cached.type, cached.external_id) == ("", "")
