"""Dependencies by their own types: parts of the lifespan's state, and typed overrides."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any, Protocol

import anyio
import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk import DefinitionError
from tempest_sdk.testing import ainvoke, invoke


class Props(BaseModel):
    name: str = "x"


class FlagsApi:
    """Stands for a client of the service the app manages."""

    def __init__(self, label: str = "real") -> None:
        self.label = label

    async def create(self, name: str) -> str:
        return f"{self.label}:{name}"


class Settings(BaseModel):
    region: str = "eu"


class Audit:
    def __init__(self) -> None:
        self.lines: list[str] = []


@dataclasses.dataclass
class State:
    api: FlagsApi
    settings: Settings
    audit: Audit
    label: str = "plain strings are not parts"


def flags_app(entered: list[str] | None = None) -> tempest.App:
    app = tempest.App("flags", "v1")
    flag = app.resource("flag", description="A feature flag.", properties=Props)

    @app.lifespan
    async def lifespan() -> AsyncIterator[State]:
        if entered is not None:
            entered.append("lifespan")
        yield State(FlagsApi(), Settings(), Audit())

    @flag.create
    async def create(
        input: Props, api: FlagsApi, settings: Settings, audit: Audit
    ) -> tempest.Resource:
        made = await api.create(input.name)
        audit.lines.append(made)
        return tempest.Resource(external_id=made, properties={"name": settings.region})

    @flag.read
    async def read(resource: tempest.Resource, state: State) -> tempest.Resource:
        return tempest.Resource(external_id=state.api.label, properties={"name": "r"})

    @flag.health_check
    async def health(api: FlagsApi) -> tempest.Health:
        return tempest.Health.healthy(api.label)

    return app


def test_a_handler_takes_each_part_by_its_type() -> None:
    report = invoke(flags_app(), "flag", "create", input={"name": "dark-mode"})
    assert report.resource.external_id == "real:dark-mode"
    assert report.resource.properties == {"name": "eu"}


def test_the_whole_state_is_still_injectable() -> None:
    report = invoke(flags_app(), "flag", "read", external_id="x")
    assert report.resource.external_id == "real"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_health_check_takes_a_part(backend: str) -> None:
    app = flags_app()

    async def check() -> Any:
        return await app.check_health()

    health = anyio.run(check, backend=backend)
    assert health is not None
    assert health.health_reports[0].message == "real"


def test_a_missing_type_names_the_parts() -> None:
    app = flags_app()
    flag = app.resource_types["flag"]

    class Unknown:
        pass

    with pytest.raises(DefinitionError) as caught:

        @flag.delete
        async def delete(thing: Unknown) -> None: ...

    message = str(caught.value)
    assert "cannot receive" in message and "Unknown" in message
    assert "whose parts are api: FlagsApi, settings: Settings, audit: Audit" in message


@dataclasses.dataclass
class Twins:
    primary: FlagsApi
    replica: FlagsApi


class Creates(Protocol):
    async def create(self, name: str) -> str: ...


@dataclasses.dataclass
class ByProtocol:
    api: Creates


def test_two_parts_of_one_type_are_ambiguous_at_registration() -> None:
    app = tempest.App("twins", "v1")
    flag = app.resource("flag", description="d", properties=Props)

    @app.lifespan
    async def lifespan() -> AsyncIterator[Twins]:
        yield Twins(FlagsApi(), FlagsApi())

    with pytest.raises(DefinitionError) as caught:

        @flag.read
        async def read(api: FlagsApi) -> tempest.Resource:
            raise NotImplementedError

    message = str(caught.value)
    assert "2 parts of type FlagsApi ('primary' and 'replica')" in message
    assert "take Twins itself" in message


def test_one_part_asked_twice_is_refused() -> None:
    app = flags_app()
    flag = app.resource_types["flag"]
    with pytest.raises(DefinitionError, match="both ask for the part 'api'"):

        @flag.delete
        async def delete(a: FlagsApi, b: FlagsApi) -> None: ...


# -- typed overrides ---------------------------------------------------------------------


class FakeFlagsApi(FlagsApi):
    def __init__(self) -> None:
        super().__init__("fake")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_one_part_is_replaced_and_the_lifespan_still_runs(backend: str) -> None:
    entered: list[str] = []
    app = flags_app(entered)

    async def run() -> tuple[tempest.Resource, tempest.Resource]:
        created = await ainvoke(app, "flag", "create", input={"name": "a"})
        read = await ainvoke(app, "flag", "read", external_id="x")
        return created.resource, read.resource

    with app.overriding(FlagsApi, FakeFlagsApi()):
        created, read = anyio.run(run, backend=backend)
    assert created.external_id == "fake:a"
    assert read.external_id == "fake"  # the whole state holds the replacement too
    assert entered == ["lifespan", "lifespan"]
    # Outside the block, the real part again.
    assert invoke(app, "flag", "create", input={"name": "b"}).resource.external_id == "real:b"


def test_the_whole_state_is_replaced_without_the_lifespan() -> None:
    entered: list[str] = []
    app = flags_app(entered)
    with app.overriding(State, State(FakeFlagsApi(), Settings(region="us"), Audit())):
        report = invoke(app, "flag", "create", input={"name": "a"})
    assert report.resource.external_id == "fake:a"
    assert report.resource.properties == {"name": "us"}
    assert entered == []


def test_an_override_is_checked_against_its_type() -> None:
    app = flags_app()

    class Duck:
        async def create(self, name: str) -> str:
            return name

    with (
        pytest.raises(TypeError, match="a replacement for FlagsApi must be one"),
        app.overriding(FlagsApi, Duck()),
    ):
        pass


def test_a_protocol_override_needs_its_members() -> None:
    app = tempest.App("proto", "v1")
    flag = app.resource("flag", description="d", properties=Props)

    @app.lifespan
    async def lifespan() -> AsyncIterator[ByProtocol]:
        yield ByProtocol(FlagsApi())

    @flag.create
    async def create(input: Props, api: Creates) -> tempest.Resource:
        return tempest.Resource(external_id=await api.create(input.name))

    class Lacking:
        pass

    with (
        pytest.raises(TypeError, match="Lacking is no Creates: it lacks create"),
        app.overriding(Creates, Lacking()),
    ):
        pass
    with app.overriding(Creates, FakeFlagsApi()):
        report = invoke(app, "flag", "create", input={"name": "p"})
    assert report.resource.external_id == "fake:p"


def test_an_unknown_dependency_names_what_the_lifespan_provides() -> None:
    app = flags_app()

    class Audit2:
        pass

    with (
        pytest.raises(LookupError, match="provides no Audit2; it yields State, whose parts"),
        app.overriding(Audit2, Audit2()),
    ):
        pass


def test_an_override_inside_serving_is_refused() -> None:
    app = flags_app()

    async def run() -> None:
        async with app.serving():
            with app.overriding(FlagsApi, FakeFlagsApi()):
                pass

    with pytest.raises(RuntimeError, match="is serving already"):
        anyio.run(run)
