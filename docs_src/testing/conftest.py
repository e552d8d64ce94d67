from collections.abc import Iterator

import pytest
from app import GreetingStore, app

import tempest_sdk as tempest


@pytest.fixture
def tempest_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tempest.App]:
    # Settings first: the lifespan reads them when `tempest_runner`, which
    # takes this fixture, starts serving.
    monkeypatch.setenv("GREETINGS_SALUTATION", "Hi")
    # One part of what the lifespan yields swapped, for as long as the
    # runner serves: a store that already holds a greeting.
    with app.overriding(GreetingStore, GreetingStore({"greeting-7": "Ada"})):
        yield app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
