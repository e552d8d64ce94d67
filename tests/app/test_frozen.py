"""Once served, invoked, dispatched to or described, an app's declarations are frozen."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.testing import ainvoke


class Props(BaseModel):
    name: str = "x"


def declared() -> tuple[tempest.App, tempest.ResourceType]:
    app = tempest.App("shop", "v1")
    example = app.resource("example", description="d", properties=Props)

    @example.read
    def read(resource: tempest.Resource) -> tempest.Resource:
        return resource

    return app, example


def test_the_definition_is_an_immutable_value() -> None:
    app, _ = declared()
    definition = app.definition
    assert (definition.app_id, definition.version, list(definition.types)) == (
        "shop",
        "v1",
        ["example"],
    )
    example = definition.types["example"]
    assert list(example.handlers) == ["read"] and example.supported() == "read"
    with pytest.raises(TypeError):
        example.handlers["create"] = example.handlers["read"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        example.actions = {}  # type: ignore[misc]
    assert app.definition is definition


@pytest.mark.parametrize("how", ["describe", "dispatch", "serving"])
async def test_declaring_after_the_app_froze_says_why(how: str) -> None:
    app, _ = declared()
    if how == "describe":
        app.describe()
    elif how == "dispatch":
        await ainvoke(app, "example", "read", external_id="r1")
    else:
        async with app.serving():
            pass
    with pytest.raises(tempest.DefinitionError, match="the app is frozen"):
        app.resource("late", description="d", properties=Props)
    with pytest.raises(tempest.DefinitionError, match="before that"):

        @app.lifespan
        async def lifespan() -> AsyncIterator[None]:
            yield


async def test_registering_a_handler_after_the_app_froze_says_why() -> None:
    app, example = declared()
    app.describe()
    with pytest.raises(tempest.DefinitionError, match="create handler: the app is frozen"):

        @example.create
        def create() -> tempest.Resource:
            return tempest.Resource()

    with pytest.raises(tempest.DefinitionError, match="action 'ping': the app is frozen"):

        @example.action("ping", description="d")
        def ping() -> dict[str, object]:
            return {}

    assert "create" not in app.definition.types["example"].handlers
