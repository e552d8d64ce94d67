"""pytest plugin: an emulator and a running runner as fixtures.

Registered through the `pytest11` entry point, so installing tempest-sdk is enough.
Fixtures are function-scoped unless the ini option `tempest_fixture_scope` says
otherwise (`module`, `session`, ...). Define a `tempest_app` fixture returning the
app (or a list of apps) that `tempest_runner` should serve.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .. import App
    from ..emulator import Emulator
    from ..runner import Runner, RunnerThread


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "tempest_fixture_scope",
        "pytest scope of the tempest_emulator and tempest_runner fixtures",
        default="function",
    )


def _scope(fixture_name: str, config: pytest.Config) -> Any:
    return config.getini("tempest_fixture_scope")


@pytest.fixture(scope=_scope)
def tempest_emulator() -> Iterator[Emulator]:
    """A local emulator of the control plane, serving on a loopback port."""
    from ..emulator import Emulator

    with Emulator().serve_in_thread() as emulator:
        yield emulator


@pytest.fixture(scope=_scope)
def tempest_app() -> App | list[App]:
    """The app(s) `tempest_runner` serves: override this fixture in your conftest."""
    raise pytest.UsageError(
        "the tempest_runner fixture needs a `tempest_app` fixture returning your App; "
        "define one in conftest.py: @pytest.fixture\ndef tempest_app(): return app"
    )


@pytest.fixture(scope=_scope)
def tempest_runner(
    tempest_app: App | list[App], tempest_emulator: Emulator
) -> Iterator[RunnerThread[Runner]]:
    """A runner serving `tempest_app` against `tempest_emulator`, in a background thread."""
    from ..runner import Runner

    apps = tempest_app if isinstance(tempest_app, list) else [tempest_app]
    runner = Runner(
        apps,
        client=tempest_emulator.client,  # built and closed in the runner's own loop
        connect=True,
        health_interval=3600.0,
    )
    handle = runner.start_in_thread()
    try:
        yield handle
    finally:
        handle.stop()
