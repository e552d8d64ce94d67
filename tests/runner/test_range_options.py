"""Connections follow concurrency, and an embedded Runner reads the environment as
`run()` does."""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
import pytest

import tempest_sdk.client
from tempest_sdk.client import TempestConfigError
from tempest_sdk.runner import Runner, RunnerConfigError, RunnerOptions, run
from tempest_sdk.runner._config import CONNECTION_MARGIN, connection_limit, pool_keywords

from .fakes import FakeApp, FakeSource


class PooledClient:
    """Stands in for a client that takes `max_connections`; records what it got."""

    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(
        self, token: str | None = None, *, max_connections: int | None = None, **kwargs: Any
    ) -> None:
        PooledClient.made.append({"max_connections": max_connections, **kwargs})


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TEMPEST_MAX_CONNECTIONS",
        "TEMPEST_RUNNER_CONCURRENCY",
        "TEMPEST_RUNNER_SHUTDOWN_GRACE",
    ):
        monkeypatch.delenv(name, raising=False)
    PooledClient.made = []


def test_the_pool_holds_every_call_the_runner_may_have_in_flight():
    # next callers per version + report calls + one health report per version + margin
    assert connection_limit(RunnerOptions(concurrency=64), 1) == 64 + 64 + 1 + CONNECTION_MARGIN
    options = RunnerOptions(concurrency=256, pollers=8, reporters=32)
    assert connection_limit(options, 3) == 3 * 8 + 32 + 3 + CONNECTION_MARGIN
    # The default concurrency of 16 needs more than 16 connections, far fewer than 100.
    assert connection_limit(RunnerOptions(), 1) == 16 + 16 + 1 + CONNECTION_MARGIN


def test_pool_keywords_size_the_client_unless_the_user_did():
    options = RunnerOptions(concurrency=512)
    size = connection_limit(options, 2)
    assert pool_keywords(options, 2, environ={}) == {"max_connections": size}
    # The user's TEMPEST_MAX_CONNECTIONS wins: the client reads it itself.
    assert pool_keywords(options, 2, environ={"TEMPEST_MAX_CONNECTIONS": "40"}) == {}


def test_the_real_client_gets_the_pool_size(monkeypatch):
    runner = Runner(FakeApp(), concurrency=200, reporters=20)
    monkeypatch.setenv("TEMPEST_TOKEN", "test-token")
    client = runner._make_client(None)
    assert client.max_connections == 200 + 20 + 1 + CONNECTION_MARGIN  # type: ignore[attr-defined]
    anyio.run(client.aclose)  # type: ignore[attr-defined]  # it masked its token till now


def test_a_runner_building_its_own_client_sizes_its_pool(monkeypatch):
    monkeypatch.setattr(tempest_sdk.client, "AsyncTempestClient", PooledClient)
    runner = Runner(FakeApp(), concurrency=300, reporters=50)
    runner._make_client(None)
    assert PooledClient.made == [
        {"max_connections": 300 + 50 + 1 + CONNECTION_MARGIN, "mask_token": True}
    ]


def test_a_runner_leaves_the_pool_to_tempest_max_connections(monkeypatch):
    monkeypatch.setattr(tempest_sdk.client, "AsyncTempestClient", PooledClient)
    monkeypatch.setenv("TEMPEST_MAX_CONNECTIONS", "24")
    Runner(FakeApp(), concurrency=300)._make_client(None)
    assert PooledClient.made == [{"max_connections": None, "mask_token": True}]


def test_run_sizes_the_pool_of_the_client_it_builds(monkeypatch):
    class Refusing(PooledClient):
        def __init__(
            self, token: str | None = None, *, max_connections: int | None = None, **kwargs: Any
        ) -> None:
            super().__init__(token, max_connections=max_connections, **kwargs)
            raise TempestConfigError("no token (test)")

    monkeypatch.setattr(tempest_sdk.client, "AsyncTempestClient", Refusing)
    monkeypatch.setenv("TEMPEST_RUNNER_CONCURRENCY", "40")
    with pytest.raises(SystemExit, match="no token"):
        run(FakeApp(), FakeApp("shop", "v2"), pollers=10)
    [made] = PooledClient.made
    assert made["max_connections"] == 2 * 10 + 40 + 2 + CONNECTION_MARGIN


def test_an_embedded_runner_reads_the_environment_like_run(monkeypatch):
    monkeypatch.setenv("TEMPEST_RUNNER_CONCURRENCY", "3")
    monkeypatch.setenv("TEMPEST_RUNNER_SHUTDOWN_GRACE", "7")
    runner = Runner(FakeApp(), FakeSource())
    assert (runner.options.concurrency, runner.options.shutdown_grace) == (3, 7.0)
    # Keyword arguments win over the variables, as for run().
    assert Runner(FakeApp(), FakeSource(), concurrency=5).options.concurrency == 5
    # Options given whole are taken as they are.
    given = RunnerOptions(concurrency=9)
    assert Runner(FakeApp(), FakeSource(), options=given).options.concurrency == 9


def test_an_embedded_runner_rejects_a_bad_variable_clearly(monkeypatch):
    monkeypatch.setenv("TEMPEST_RUNNER_CONCURRENCY", "lots")
    with pytest.raises(RunnerConfigError, match="TEMPEST_RUNNER_CONCURRENCY='lots'"):
        Runner(FakeApp(), FakeSource())
