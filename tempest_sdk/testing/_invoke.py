"""Run one handler through `dispatch`, as the runner would, without any network."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ._samples import sample_task

if TYPE_CHECKING:
    from .. import App
    from ..models import TaskReport

__all__ = ["ainvoke", "invoke"]


async def ainvoke(
    app: App,
    resource_type: str,
    name: str,
    *,
    input: Mapping[str, Any] | None = None,
    external_id: str = "",
    next: str = "",
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> TaskReport:
    """Dispatch one task to `app` and return its report.

    Args:
        app: the app under test.
        resource_type: the resource type, e.g. `"example"`.
        name: `create`, `read`, `update`, `delete`, `list`, or an action name.
        input: the operation's or action's input.
        external_id: the external id of the resource the task is about.
        next: for `list`, the page cursor.
        env: plain environment variables.
        secrets: `secret` environment variables.
        timeout: the task timeout, in seconds (default: the handler's own, or none).
    """
    task = sample_task(
        resource_type,
        name,
        input=input,
        external_id=external_id,
        next=next,
        env=env,
        secrets=secrets,
    )
    return await app.dispatch(task, timeout=timeout)


def invoke(
    app: App,
    resource_type: str,
    name: str,
    *,
    input: Mapping[str, Any] | None = None,
    external_id: str = "",
    next: str = "",
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> TaskReport:
    """The synchronous form of `ainvoke`, for plain test functions and scripts."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("invoke() cannot run inside an event loop: use `await ainvoke(...)`")
    call = functools.partial(
        ainvoke,
        app,
        resource_type,
        name,
        input=input,
        external_id=external_id,
        next=next,
        env=env,
        secrets=secrets,
        timeout=timeout,
    )
    return anyio.run(call)
