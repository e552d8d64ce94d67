"""Fixtures: the app, a fake Temps, and the app wired to it in process or on loopback."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Generator
from pathlib import Path

import anyio
import httpx
import pytest

EXAMPLE = Path(__file__).resolve().parents[1]
# app.py imports its sibling temps_client.py, as `tempest-sdk serve path/to/app.py` lets
# it; appended, so that the example's folder shadows no other module.
if str(EXAMPLE) not in sys.path:
    sys.path.append(str(EXAMPLE))

from temps_client import TempsClient  # noqa: E402

import tempest_sdk as tempest  # noqa: E402

from ..app import Services, TempsSettings  # noqa: E402
from ..app import app as temps_app  # noqa: E402
from .fake_temps import FAKE_TOKEN, FakeTemps  # noqa: E402

#: A page size small enough that the fake's few rows span several pages.
SMALL_PAGES = 2


@pytest.fixture
def app() -> tempest.App:
    """The Temps app, as `tempest-sdk serve examples/temps/app.py` loads it."""
    return temps_app


@pytest.fixture
def fake() -> FakeTemps:
    """A fresh fake Temps with its seed data."""
    return FakeTemps()


@contextlib.contextmanager
def wired_to(app: tempest.App, fake: FakeTemps) -> Generator[tempest.App]:
    """`app` serving with a Temps client that calls `fake` in process (no sockets).

    The lifespan's settings and client are swapped with `app.overriding_state`, the
    seam the SDK offers tests; the pages are small, to cross page boundaries.
    """
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake.asgi),
        base_url="http://127.0.0.1/api",
        headers={"Authorization": f"Bearer {fake.token}"},
    )
    settings = tempest.load_settings(
        TempsSettings, url="http://127.0.0.1/api", token=fake.token, page_size=SMALL_PAGES
    )
    try:
        with app.overriding_state(Services(settings, TempsClient(http, page_size=SMALL_PAGES))):
            yield app
    finally:
        anyio.run(http.aclose)


@pytest.fixture
def wired(app: tempest.App, fake: FakeTemps) -> Generator[tempest.App]:
    """The app wired to `fake` in process (see `wired_to`)."""
    with wired_to(app, fake):
        yield app


@pytest.fixture
def served(fake: FakeTemps, monkeypatch: pytest.MonkeyPatch) -> Generator[str]:
    """`fake` served by a real uvicorn on loopback, and the app's settings pointing at it.

    Yields the API URL. The app's own lifespan reads these variables.
    """
    with fake.serve() as url:
        monkeypatch.setenv("TEMPS_URL", url)
        monkeypatch.setenv("TEMPS_TOKEN", FAKE_TOKEN)
        monkeypatch.setenv("TEMPS_PAGE_SIZE", str(SMALL_PAGES))
        yield url
