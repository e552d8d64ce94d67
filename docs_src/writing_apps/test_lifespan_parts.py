"""A test that swaps one dependency: the Temps client, in memory."""

from __future__ import annotations

import httpx
import pytest

from tempest_sdk.testing import invoke

from .lifespan_parts import app


def temps_in_memory(request: httpx.Request) -> httpx.Response:
    project = {"id": 7, "name": "web", "repository": "git@example.com:web"}
    if request.url.path == "/api/projects/7":
        return httpx.Response(200, json=project)
    return httpx.Response(404)


def test_read_with_a_fake_temps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPS_TOKEN", "test-token")  # the lifespan still runs
    fake = httpx.AsyncClient(
        base_url="https://temps.example.com/api",
        transport=httpx.MockTransport(temps_in_memory),
    )
    with app.overriding(httpx.AsyncClient, fake):
        found = invoke(app, "project", "read", external_id="7")
        missing = invoke(app, "project", "read", external_id="8")
    assert found.resource.display_name == "web"
    assert missing.message.endswith(
        "resource not found: not in https://temps.example.com/api"
    )
