"""The pytest fixtures: the override held while `tempest_runner` serves."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import tempest_sdk as tempest

from .lifespan_parts import app
from .test_lifespan_parts import temps_in_memory


@pytest.fixture
def tempest_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tempest.App]:
    monkeypatch.setenv("TEMPS_TOKEN", "test-token")  # settings first
    fake = httpx.AsyncClient(
        base_url="https://temps.example.com/api",
        transport=httpx.MockTransport(temps_in_memory),
    )
    with app.overriding(httpx.AsyncClient, fake):
        yield app
