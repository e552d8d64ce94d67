"""The samples docs/client.md shows for the pool and the attempt deadline, run against
the emulator on 127.0.0.1."""

from __future__ import annotations

import runpy
from collections.abc import Iterator

import pytest

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.emulator import Emulator


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    emulator = Emulator()
    with emulator.serve_in_thread():
        monkeypatch.setenv("TEMPEST_API_ENDPOINT", emulator.url)
        monkeypatch.setenv("TEMPEST_TOKEN", emulator.token)
        yield emulator
    assert emulator.violations == []


def test_the_pool_and_deadline_sample_sizes_its_client(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[AsyncTempestClient] = []
    original = AsyncTempestClient.__init__

    def recording(self: AsyncTempestClient, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        built.append(self)

    monkeypatch.setattr(AsyncTempestClient, "__init__", recording)
    runpy.run_module("docs_src.client.pool_and_deadline", run_name="__main__")
    assert capsys.readouterr().out == "no work right now\n"
    (client,) = built
    assert client.max_connections == 64 + 64 + 1
    assert client.attempt_timeout == 10.0
