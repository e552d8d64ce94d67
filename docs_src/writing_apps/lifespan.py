from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

import tempest_sdk as tempest

app = tempest.App("temps", "v1")


class TempsSettings(BaseSettings):
    """Read from TEMPS_URL, TEMPS_TOKEN, or files in /run/secrets."""

    model_config = SettingsConfigDict(
        env_prefix="TEMPS_", secrets_dir="/run/secrets"
    )

    url: str = "https://temps.example.com/api"
    token: SecretStr


@dataclass(frozen=True)
class Clients:
    """What every handler of the app shares while it serves."""

    settings: TempsSettings
    temps: httpx.AsyncClient


@app.lifespan
async def clients() -> AsyncIterator[Clients]:
    # Every problem with the settings is listed, at start.
    settings = tempest.load_settings(TempsSettings)
    # One client, one connection pool, for every task: no handshake per task.
    async with httpx.AsyncClient(
        base_url=settings.url,
        headers={
            "Authorization": f"Bearer {settings.token.get_secret_value()}"
        },
        timeout=10.0,
    ) as temps:
        yield Clients(settings=settings, temps=temps)


class ProjectProperties(BaseModel):
    name: str = Field(title="Name")
    repository: str = Field(title="Repository")


class NewProject(BaseModel):
    name: str = Field(title="Name")
    repository: str = Field(
        title="Repository", description="The Git repository to deploy."
    )


project = app.resource(
    "project",
    display_name="Temps project",
    description="A project deployed by Temps.",
    properties=ProjectProperties,
)


@project.create
async def create(input: NewProject, clients: Clients) -> tempest.Resource:
    # `clients` is what the lifespan yields, injected by its type.
    response = await clients.temps.post(
        "/projects", json={"name": input.name, "repository": input.repository}
    )
    response.raise_for_status()
    created = response.json()
    return tempest.Resource(
        external_id=str(created["id"]),
        display_name=input.name,
        properties={"name": input.name, "repository": input.repository},
    )
