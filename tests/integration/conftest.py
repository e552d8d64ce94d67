"""Helpers of the reliability suite: a served emulator, a client and a running runner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

from .apps import OPTIONS


@asynccontextmanager
async def serving(emulator: Emulator, apps: Any, **options: Any) -> AsyncIterator[Runner]:
    """Serve `emulator` on loopback and run a ready runner for `apps` against it."""
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(apps, client, **{**OPTIONS, **options}) as runner,
    ):
        yield runner


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until `condition()` holds, failing with `what` after `timeout` seconds."""
    try:
        with anyio.fail_after(timeout):
            while not condition():  # noqa: ASYNC110 - conditions on other threads' state
                await anyio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
