"""Real apps for the reliability suite, built with the public app API.

Every handler records the task it ran (`Tracker`) so tests can prove that no
handler ran twice. Results are a pure function of the task, so tests can check
each report against what the task asked for.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import anyio
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk._backoff import Backoff

APP_ID = "reliability"

OPTIONS: dict[str, Any] = {
    "retry_backoff": Backoff(base=0.01, cap=0.1, rng=random.Random(7)),
    "poll_interval_min": 0.005,
    "poll_interval_max": 0.05,
    "health_interval": 3600.0,
    "blocked_loop_warning": None,
}
"""Runner options for tests: the real policies, with short pauses."""


class Tracker:
    """Counts handler runs per task id (thread-safe: plain handlers run in threads)."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()

    def ran(self, task_id: str) -> None:
        with self._lock:
            self.runs[task_id] += 1


class Widget(BaseModel):
    color: str
    size: int


class WidgetInput(BaseModel):
    color: str = "red"
    size: int = 1


class ResizeInput(BaseModel):
    size: int


class ResizeOutput(BaseModel):
    external_id: str
    size: int


def widget_app(tracker: Tracker, version: str = "v1", *, delay: float = 0.0) -> tempest.App:
    """An app with one resource type supporting every operation, list and an action.

    `read` and `delete` are plain functions (they run in worker threads); the rest
    are async. `delay` makes every handler take that long.
    """
    app = tempest.App(APP_ID, version)
    widget = app.resource(
        "widget", display_name="Widget", description="A widget.", properties=Widget
    )

    @widget.create
    async def create(ctx: tempest.Context, input: WidgetInput) -> tempest.Resource:
        tracker.ran(ctx.task_id)
        await anyio.sleep(delay)
        return tempest.Resource(
            external_id=f"w-{input.color}-{input.size}",
            display_name=f"{input.color} widget",
            properties={"color": input.color, "size": input.size},
        )

    @widget.read
    def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        tracker.ran(ctx.task_id)
        time.sleep(delay)
        return tempest.Resource(
            external_id=resource.external_id,
            display_name="read",
            properties={"color": "read", "size": len(resource.external_id)},
        )

    @widget.update
    async def update(
        ctx: tempest.Context, resource: tempest.Resource, input: WidgetInput
    ) -> tempest.Resource:
        tracker.ran(ctx.task_id)
        await anyio.sleep(delay)
        return tempest.Resource(
            external_id=resource.external_id,
            display_name="updated",
            properties={"color": input.color, "size": input.size},
        )

    @widget.delete
    def delete(ctx: tempest.Context, resource: tempest.Resource) -> None:
        tracker.ran(ctx.task_id)
        time.sleep(delay)

    @widget.list
    async def list_widgets(ctx: tempest.Context, cursor: str) -> tempest.Page:
        tracker.ran(ctx.task_id)
        await anyio.sleep(delay)
        page = int(cursor or "0")
        resources = [
            tempest.Resource(
                external_id=f"w-{page}-{i}",
                display_name=f"widget {i}",
                properties={"color": "listed", "size": i},
            )
            for i in range(2)
        ]
        return tempest.Page(resources, next=str(page + 1) if page < 2 else "")

    @widget.action("resize", display_name="Resize", description="Change the size.")
    async def resize(
        ctx: tempest.Context, resource: tempest.Resource, input: ResizeInput
    ) -> ResizeOutput:
        tracker.ran(ctx.task_id)
        await anyio.sleep(delay)
        return ResizeOutput(external_id=resource.external_id, size=input.size)

    @widget.health_check
    async def health(ctx: tempest.Context) -> tempest.Health:
        return tempest.Health.healthy()

    return app
