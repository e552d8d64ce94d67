"""Greetings with a lifespan: a store and settings that every task shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

import tempest_sdk as tempest

app = tempest.App("greetings", "v1")


class GreetingsSettings(BaseSettings):
    """Read from GREETINGS_SALUTATION and GREETINGS_PAGE_SIZE."""

    model_config = SettingsConfigDict(env_prefix="GREETINGS_")

    salutation: str = "Hello"
    page_size: int = Field(default=10, ge=1)


class GreetingStore:
    """Where greetings live: the client of another system in a real app
    (an `httpx.AsyncClient` and its connection pool); here, memory."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names = dict(names or {})
        self.closed = False

    async def add(self, name: str) -> str:
        external_id = f"greeting-{len(self.names) + 1}"
        self.names[external_id] = name
        return external_id

    async def get(self, external_id: str) -> str:
        if external_id not in self.names:
            raise tempest.ResourceNotFoundError(f"no greeting {external_id}")
        return self.names[external_id]

    async def rename(self, external_id: str, name: str) -> None:
        await self.get(external_id)  # not found: says so
        self.names[external_id] = name

    async def remove(self, external_id: str) -> None:
        self.names.pop(external_id, None)

    async def aclose(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class Greetings:
    """What every handler of the app shares while it serves."""

    settings: GreetingsSettings
    store: GreetingStore


@app.lifespan
async def greetings() -> AsyncIterator[Greetings]:
    # Every problem with the settings is listed, at start.
    settings = tempest.load_settings(GreetingsSettings)
    store = GreetingStore()  # one client for every task
    try:
        yield Greetings(settings=settings, store=store)
    finally:
        await store.aclose()  # after the last task, when serving stops


class Greeting(BaseModel):
    name: str = Field(title="Name", description="Who to greet.")


class Rename(BaseModel):
    name: str = Field(title="New name")


greeting = app.resource(
    "greeting",
    display_name="Greeting",
    description="A greeting for someone.",
    properties=Greeting,
    lifecycle_stage="code",
)


def _resource(
    external_id: str, name: str, settings: GreetingsSettings
) -> tempest.Resource:
    return tempest.Resource(
        external_id=external_id,
        display_name=f"{settings.salutation}, {name}!",
        properties=Greeting(name=name),
    )


# Each handler takes the parts it needs, by their types.
@greeting.create
async def create(
    input: Greeting, store: GreetingStore, settings: GreetingsSettings
) -> tempest.Resource:
    external_id = await store.add(input.name)
    return _resource(external_id, input.name, settings)


@greeting.read
async def read(
    resource: tempest.Resource,
    store: GreetingStore,
    settings: GreetingsSettings,
) -> tempest.Resource:
    name = await store.get(resource.external_id)
    return _resource(resource.external_id, name, settings)


@greeting.update
async def update(
    resource: tempest.Resource,
    input: Rename,
    store: GreetingStore,
    settings: GreetingsSettings,
) -> tempest.Resource:
    await store.rename(resource.external_id, input.name)
    return _resource(resource.external_id, input.name, settings)


@greeting.delete
async def delete(resource: tempest.Resource, store: GreetingStore) -> None:
    await store.remove(resource.external_id)


@greeting.list
async def list_greetings(cursor: str, shared: Greetings) -> tempest.Page:
    # The whole of what the lifespan yields, when a handler wants it all.
    ids = sorted(shared.store.names)
    start = int(cursor or 0)
    end = start + shared.settings.page_size
    return tempest.Page(
        resources=[
            _resource(i, shared.store.names[i], shared.settings)
            for i in ids[start:end]
        ],
        next=str(end) if end < len(ids) else "",
    )


@greeting.health_check
async def health(store: GreetingStore) -> tempest.Health:
    if store.closed:
        return tempest.Health.disrupted("the store is closed")
    return tempest.Health.healthy()


if __name__ == "__main__":
    app.run()  # against Tempest: reads TEMPEST_TOKEN; stops on SIGINT/SIGTERM
