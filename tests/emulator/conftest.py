"""Fixtures for the emulator tests: an emulator with a fake clock, and clients of it
over a real loopback socket or the in-process transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, nullcontext

import pytest

from tempest_sdk._backoff import Backoff
from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.emulator import Emulator

APP, VERSION = "helloworld", "v1"


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    return Emulator(seed=7, clock=clock, lease_timeout=30.0)


def fast_client(emulator: Emulator, **kwargs) -> AsyncTempestClient:
    """A client of the emulator that retries without real waiting."""
    kwargs.setdefault("backoff", Backoff(base=0.001, cap=0.005))
    kwargs.setdefault("timeout", 5.0)
    return emulator.client(**kwargs)


@pytest.fixture(params=["socket", "in-process"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def serving(emulator: Emulator, mode: str) -> Iterator[Emulator]:
    """The emulator, served on a loopback socket in `socket` mode."""
    context: AbstractContextManager[Emulator] = (
        emulator.serve_in_thread() if mode == "socket" else nullcontext(emulator)
    )
    with context as served:
        yield served


@pytest.fixture
async def client(serving: Emulator) -> AsyncIterator[AsyncTempestClient]:
    async with fast_client(serving) as c:
        yield c


@pytest.fixture
def make_client(serving: Emulator) -> Callable[..., AsyncTempestClient]:
    return lambda **kwargs: fast_client(serving, **kwargs)
