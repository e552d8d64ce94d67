"""The two things a runner drives, as structural types.

`AsyncTempestClient` satisfies `TaskSource` and `tempest_sdk.App` satisfies
`RunnableApp`; tests substitute small in-memory fakes.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import anyio

from .._limits import Limits
from ..models import AppHealthReportRequest, ConnectRequest, Task, TaskReport

__all__ = ["RunnableApp", "TaskSource"]


class TaskSource(Protocol):
    """Where tasks come from and where their outcomes go (the control plane).

    `max_retries=0` asks for a single attempt: the runner retries by itself. Omitting
    it leaves the source's own retry policy in force (used for one-shot calls).
    """

    async def next_task(
        self, app_id: str, version: str, /, *, max_retries: int = ...
    ) -> Task | None:
        """Lease the next task of an app version; `None` when there is none now."""
        ...

    async def report(self, report: TaskReport, /, *, max_retries: int = ...) -> object:
        """Deliver a task's outcome."""
        ...

    async def report_health(
        self, request: AppHealthReportRequest, /, *, max_retries: int = ...
    ) -> object:
        """Deliver the health of an app version's resource types."""
        ...

    async def connect_app_version(
        self, request: ConnectRequest, /, *, max_retries: int = ...
    ) -> object:
        """Declare an app version and its resource types."""
        ...


class RunnableApp(Protocol):
    """An app the runner can serve: an identity, a dispatcher, health checks, its
    lifespan and its limits (what `tempest_sdk.App` offers)."""

    @property
    def app_id(self) -> str:
        """The app's id."""
        ...

    @property
    def version(self) -> str:
        """The app's version, `v<number>`."""
        ...

    def describe(self) -> ConnectRequest:
        """The connect payload of this app version."""
        ...

    async def dispatch(
        self,
        task: Task,
        *,
        timeout: float | None = None,
        thread_limiter: anyio.CapacityLimiter | None = None,
    ) -> TaskReport:
        """Execute one task and return its report; never raises for a task's faults."""
        ...

    async def check_health(self, *, timeout: float = 30.0) -> AppHealthReportRequest | None:
        """Run every health check; `None` when the app has none."""
        ...

    def serving(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """The app's lifespan: entered before the first poll, left once stopped."""
        ...

    def limits_for(self, resource_type: str, action: str | None = None) -> Limits:
        """The limits of an action's tasks (with `action`) or of all a type's tasks."""
        ...
