"""Each task's id and project on every request the handler's own client
sends, so that the inventory service can trace and bill them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import httpx

import tempest_sdk as tempest
from tempest_sdk import InterceptedTask, Interceptor
from tempest_sdk.models import TaskReport
from tempest_sdk.runner import TaskCall

# The headers of the task running in this context; none outside a task.
TASK_HEADERS: ContextVar[dict[str, str] | None] = ContextVar(
    "task_headers", default=None
)


class Propagate(Interceptor):
    """Sets the task's headers for the handler, and only for it."""

    async def intercept_task(
        self, task: InterceptedTask, call_next: TaskCall
    ) -> TaskReport:
        headers = {
            "X-Request-Id": task.info.task_id,
            "X-Project-Id": task.metadata.project_id,
        }
        token = TASK_HEADERS.set(headers)
        try:
            return await call_next()
        finally:
            TASK_HEADERS.reset(token)


async def add_task_headers(request: httpx.Request) -> None:
    headers = TASK_HEADERS.get()
    if headers is not None:
        request.headers.update(headers)


def inventory_client(**options: Any) -> httpx.AsyncClient:
    """The app's one client; every request it sends carries the headers."""
    return httpx.AsyncClient(
        base_url="https://inventory.example.com",
        event_hooks={"request": [add_task_headers]},
        **options,
    )


app = tempest.App("inventory", "v1")
item = app.resource(
    "item",
    display_name="Item",
    description="An item in stock.",
    properties={"type": "object"},
)


@app.lifespan
async def clients() -> AsyncIterator[httpx.AsyncClient]:
    async with inventory_client() as client:
        yield client


@item.create
async def create(
    ctx: tempest.Context, inventory: httpx.AsyncClient
) -> tempest.Resource:
    response = await inventory.post("/items", json={"name": "widget"})
    response.raise_for_status()
    found = response.json()
    return tempest.Resource(external_id=found["id"], display_name="widget")


if __name__ == "__main__":
    app.run(hooks=[Propagate()])
