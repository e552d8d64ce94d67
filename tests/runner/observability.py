"""Helpers of the observability tests: a known workload, HTTP probes, event-loop backends.

The workload is a real app served by the real runner against the real emulator on
127.0.0.1: one task per outcome (ok, error, timeout) and per kind (operation,
action, list), each carrying a secret environment variable and a distinctive input
value, so that tests can prove neither reaches a label, a span or a scrape.
"""

from __future__ import annotations

import contextlib
import random
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk._backoff import Backoff
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

APP_ID = "shop"
VERSION = "v1"
SECRET = "s3cr3t-value-never-shown"
INPUT = "input-value-never-shown"

OPTIONS: dict[str, Any] = {
    "retry_backoff": Backoff(base=0.01, cap=0.1, rng=random.Random(7)),
    "poll_interval_min": 0.005,
    "poll_interval_max": 0.05,
    "health_interval": 3600.0,
    "blocked_loop_warning": None,
    "flush_timeout": 5.0,
}
"""Runner options for tests: the real policies, with short pauses."""

BACKENDS: list[tuple[str, dict[str, Any]]] = [
    ("asyncio", {}),
    ("trio", {}),
]
try:
    import uvloop  # noqa: F401

    BACKENDS.append(("asyncio", {"use_uvloop": True}))
except ImportError:  # pragma: no cover - uvloop is in the test extra where it installs
    pass
BACKEND_IDS = ["asyncio", "trio", "uvloop"][: len(BACKENDS)]


def run_on(backend: tuple[str, dict[str, Any]], scenario: Callable[[], Any]) -> None:
    """Run `scenario` on `backend` (name, options), as `anyio.run` does."""
    name, options = backend
    anyio.run(scenario, backend=name, backend_options=options)


class Widget(BaseModel):
    color: str


class WidgetInput(BaseModel):
    color: str = "red"


class RebuildInput(BaseModel):
    force: bool = False


class RebuildOutput(BaseModel):
    rebuilt: bool


def shop_app(
    *,
    on_create: Callable[[tempest.Context], Any] | None = None,
    on_delete: Callable[[tempest.Context], Any] | None = None,
) -> tempest.App:
    """An app whose tasks end in known ways.

    - create: ok (async; `on_create(ctx)` is awaited first);
    - update: raises, reported as an error;
    - read: runs past its 0.05 s timeout;
    - delete: ok, a plain function in a worker thread (`on_delete(ctx)` first);
    - list: ok; action `rebuild`: ok;
    - health: `widget` is degraded.
    """
    app = tempest.App(APP_ID, VERSION)
    widget = app.resource(
        "widget", display_name="Widget", description="A widget.", properties=Widget
    )

    @widget.create
    async def create(ctx: tempest.Context, input: WidgetInput) -> tempest.Resource:
        if on_create is not None:
            await on_create(ctx)
        return tempest.Resource(external_id="w-1", display_name="w", properties={"color": "x"})

    @widget.update
    async def update(
        ctx: tempest.Context, resource: tempest.Resource, input: WidgetInput
    ) -> tempest.Resource:
        raise RuntimeError(f"cannot update with {ctx.env.secret('API_KEY')}")

    @widget.read(timeout=0.05)
    async def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        await anyio.sleep(30)
        return resource

    @widget.delete
    def delete(ctx: tempest.Context, resource: tempest.Resource) -> None:
        if on_delete is not None:
            on_delete(ctx)

    @widget.list
    async def list_widgets(ctx: tempest.Context, cursor: str) -> tempest.Page:
        return tempest.Page([], next="")

    @widget.action("rebuild", display_name="Rebuild", description="Rebuild it.")
    async def rebuild(
        ctx: tempest.Context, resource: tempest.Resource, input: RebuildInput
    ) -> RebuildOutput:
        return RebuildOutput(rebuilt=True)

    @widget.health_check
    async def health(ctx: tempest.Context) -> tempest.Health:
        return tempest.Health.degraded("slow backend")

    return app


def enqueue_workload(emulator: Emulator) -> dict[str, str]:
    """One task per outcome and kind; returns their ids by name."""
    env = [
        {"name": "API_KEY", "value": SECRET, "type": "secret"},
        {"name": "REGION", "value": "eu", "type": "variable"},
    ]
    return {
        "create": emulator.enqueue_operation(
            APP_ID,
            VERSION,
            "widget",
            "create",
            input={"color": INPUT},
            environment_variables=env,
        ),
        "update": emulator.enqueue_operation(
            APP_ID,
            VERSION,
            "widget",
            "update",
            external_id="w-1",
            input={"color": INPUT},
            environment_variables=env,
        ),
        "read": emulator.enqueue_operation(
            APP_ID, VERSION, "widget", "read", external_id="w-1", environment_variables=env
        ),
        "delete": emulator.enqueue_operation(
            APP_ID, VERSION, "widget", "delete", external_id="w-1", environment_variables=env
        ),
        "list": emulator.enqueue_list(APP_ID, VERSION, "widget"),
        "rebuild": emulator.enqueue_action(
            APP_ID,
            VERSION,
            "widget",
            "rebuild",
            external_id="w-1",
            input={"force": True},
            environment_variables=env,
        ),
    }


def get(url: str, *, method: str = "GET", accept: str | None = None) -> tuple[int, str, str]:
    """`(status, content type, body)` of one request (blocking: call it in a thread)."""
    request = urllib.request.Request(url, method=method)
    if accept is not None:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("Content-Type", ""), error.read().decode()


async def aget(url: str, **kwargs: Any) -> tuple[int, str, str]:
    """`get` from an async test, in a worker thread."""
    return await anyio.to_thread.run_sync(lambda: get(url, **kwargs))


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait until `condition()` holds, failing with `what` after `timeout` seconds."""
    try:
        with anyio.fail_after(timeout):
            while not condition():  # noqa: ASYNC110 - conditions on other threads' state
                await anyio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


@contextlib.asynccontextmanager
async def shop_runner(emulator: Emulator, **options: Any) -> AsyncIterator[Runner]:
    """The shop app served from `emulator` by a runner with `OPTIONS` and `options`."""
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(shop_app(), client, **{**OPTIONS, **options}) as runner,
    ):
        yield runner


async def run_lists(emulator: Emulator, count: int) -> None:
    """Enqueue `count` list tasks of the shop app and wait for their reports."""
    for _ in range(count):
        emulator.enqueue_list(APP_ID, VERSION, "widget")
    await emulator.wait_for_reports_async(count)
