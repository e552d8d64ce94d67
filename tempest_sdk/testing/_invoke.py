"""Run one handler through `dispatch`, as the runner would, without any network."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Unpack

from ._blocking import run_blocking
from ._samples import TaskOptions, sample_task

if TYPE_CHECKING:
    from .. import App
    from ..models import TaskReport

__all__ = ["ainvoke", "invoke"]


async def ainvoke(
    app: App,
    resource_type: str,
    name: str,
    *,
    timeout: float | None = None,
    **options: Unpack[TaskOptions],
) -> TaskReport:
    """Dispatch one task to `app` inside its lifespan and return its report.

    The lifespan (`App.lifespan`) is entered for this call, unless the app is serving
    already (in an `async with app.serving():` block, or beside a runner): then the
    task uses what that entry provides.

    Args:
        app: the app under test.
        resource_type: the resource type, e.g. `"example"`.
        name: `create`, `read`, `update`, `delete`, `list`, or an action name.
        timeout: the task timeout, in seconds (default: the handler's own, or none).
        **options: what the task is about: `input`, `external_id`, `next`, `env`,
            `secrets` (see `TaskOptions`).
    """
    task = sample_task(resource_type, name, **options)
    async with app.serving():
        return await app.dispatch(task, timeout=timeout)


def invoke(
    app: App,
    resource_type: str,
    name: str,
    *,
    timeout: float | None = None,
    **options: Unpack[TaskOptions],
) -> TaskReport:
    """The synchronous form of `ainvoke`, for plain test functions and scripts."""
    call = functools.partial(ainvoke, app, resource_type, name, timeout=timeout, **options)
    return run_blocking("invoke", call)
