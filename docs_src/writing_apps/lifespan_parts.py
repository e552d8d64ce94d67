"""Handlers take parts of what the lifespan yields, each by its type."""

from __future__ import annotations

import httpx

import tempest_sdk as tempest

from .lifespan import TempsSettings, app, project


@project.read
async def read(
    resource: tempest.Resource,
    temps: httpx.AsyncClient,  # a part of Clients: its `temps` field
    settings: TempsSettings,  # another part: its `settings` field
) -> tempest.Resource:
    response = await temps.get(f"/projects/{resource.external_id}")
    if response.status_code == 404:
        raise tempest.ResourceNotFoundError(f"not in {settings.url}")
    response.raise_for_status()
    found = response.json()
    return tempest.Resource(
        display_name=found["name"],
        properties={"name": found["name"], "repository": found["repository"]},
    )


__all__ = ["app"]
