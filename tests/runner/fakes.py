"""In-memory fakes of a task source and an app, to test the runner's scheduling."""

from __future__ import annotations

import contextlib
import random
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from tempest_sdk._backoff import Backoff
from tempest_sdk._limits import NO_LIMITS, Limits
from tempest_sdk.models import (
    AppHealthReportItem,
    AppHealthReportRequest,
    ConnectRequest,
    ExecuteResourceOperationResponse,
    StandardResponse,
    Task,
    TaskReport,
    parse_task,
)

ENDPOINT = "http://127.0.0.1:1/api/v1"

FAST = {
    "retry_backoff": Backoff(base=0.002, cap=0.01, rng=random.Random(1)),
    "poll_interval_min": 0.002,
    "poll_interval_max": 0.01,
    "blocked_loop_warning": None,
    "health_interval": 3600.0,
    "flush_timeout": 2.0,
}
"""Runner options that keep unit tests fast: tiny pauses and backoff."""


BACKENDS = ["asyncio", "trio", "uvloop"]


def run_on(backend: str, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run `scenario` on `backend`: asyncio, trio, or asyncio on uvloop (skipped when
    uvloop is not installed)."""
    if backend == "uvloop":
        pytest.importorskip("uvloop", reason="uvloop is not installed")
        anyio.run(scenario, backend="asyncio", backend_options={"use_uvloop": True})
    else:
        anyio.run(scenario, backend=backend)


def make_task(
    task_id: str,
    *,
    operation: str = "create",
    resource_type: str = "example",
    action: str | None = None,
    env: list[dict[str, str]] | None = None,
) -> Task:
    """A valid task of the given kind."""
    resource = {"type": resource_type, "external_id": f"ext-{task_id}", "display_name": "x"}
    if action is not None:
        request: dict[str, Any] = {
            "request_type": "execute_resource_action",
            "action": action,
            "resource": resource,
            "input": {},
        }
    elif operation == "list":
        request = {"request_type": "list_resources", "resource": resource, "next": ""}
    else:
        request = {
            "request_type": "execute_resource_operation",
            "operation": operation,
            "resource": resource,
            "input": {},
        }
    if env is not None and "next" not in request:
        request["environment_variables"] = env
    owner = {"email": "a@example.com", "name": "A", "type": "user"}
    return parse_task(
        {
            "task_id": task_id,
            "task": request,
            "metadata": {
                "owners": [owner],
                "author": owner,
                "project_id": "p1",
                "project_name": "P",
            },
        }
    )


def ok_report(task: Task) -> TaskReport:
    """The report of a task that succeeded."""
    return TaskReport.ok(
        task.task_id, ExecuteResourceOperationResponse(resource=task.task.resource)
    )


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Wait until `condition()` holds, failing with `what` after `timeout` seconds."""
    try:
        with anyio.fail_after(timeout):
            while not condition():  # noqa: ASYNC110 - conditions on plain attributes
                await anyio.sleep(0.002)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


class FakeSource:
    """A control plane in memory: scripted `next` answers, recorded reports.

    `push()` queues answers per app version: a `Task`, an exception to raise, or
    `None` (a 204). An empty queue answers 204. `report_errors[task_id]` lists
    exceptions that successive report attempts of that task raise.
    """

    endpoint = ENDPOINT

    def __init__(self) -> None:
        self.queues: dict[tuple[str, str], deque[object]] = defaultdict(deque)
        self.next_calls: Counter[tuple[str, str]] = Counter()
        self.next_retries: list[object] = []
        self.next_in_flight = 0
        self.next_log: list[tuple[int, int]] = []  # (calls in flight, handlers running)
        self.report_errors: dict[str, deque[BaseException]] = defaultdict(deque)
        self.report_attempts: Counter[str] = Counter()
        self.report_retries: list[object] = []
        self.acked: list[TaskReport] = []
        self.health: list[AppHealthReportRequest] = []
        self.health_errors: deque[BaseException] = deque()
        self.health_attempts = 0
        self.connects: list[ConnectRequest] = []
        self.connect_error: BaseException | None = None
        self.report_gate: anyio.Event | None = None
        self.running: Callable[[], int] = lambda: 0
        self.next_delay = 0.0  # seconds each `next` takes, like a network round trip
        self.next_gate: anyio.Event | None = None  # `next` calls wait for it when set
        self.most_next_in_flight = 0

    def push(self, app_id: str, version: str, *items: object) -> None:
        self.queues[(app_id, version)].extend(items)

    def acked_ids(self) -> list[str]:
        return [report.task_id for report in self.acked]

    async def next_task(self, app_id: str, version: str, /, **kwargs: Any) -> Task | None:
        self.next_calls[(app_id, version)] += 1
        self.next_retries.append(kwargs.get("max_retries", "default"))
        self.next_in_flight += 1
        self.most_next_in_flight = max(self.most_next_in_flight, self.next_in_flight)
        self.next_log.append((self.next_in_flight, self.running()))
        try:
            await anyio.lowlevel.checkpoint()
            if self.next_delay:
                await anyio.sleep(self.next_delay)
            if self.next_gate is not None:
                await self.next_gate.wait()
            queue = self.queues[(app_id, version)]
            item = queue.popleft() if queue else None
            if isinstance(item, BaseException):
                raise item
            assert item is None or isinstance(item, Task)
            return item
        finally:
            self.next_in_flight -= 1

    async def report(self, report: TaskReport, /, **kwargs: Any) -> StandardResponse:
        self.report_attempts[report.task_id] += 1
        self.report_retries.append(kwargs.get("max_retries", "default"))
        if self.report_gate is not None:
            await self.report_gate.wait()
        await anyio.lowlevel.checkpoint()
        errors = self.report_errors.get(report.task_id)
        if errors:
            raise errors.popleft()
        self.acked.append(report)
        return StandardResponse(status="ok")

    async def report_health(self, request: AppHealthReportRequest, /, **kwargs: Any) -> object:
        self.health_attempts += 1
        await anyio.lowlevel.checkpoint()
        if self.health_errors:
            raise self.health_errors.popleft()
        self.health.append(request)
        return StandardResponse(status="ok")

    async def connect_app_version(self, request: ConnectRequest, /, **kwargs: Any) -> object:
        if self.connect_error is not None:
            raise self.connect_error
        self.connects.append(request)
        return StandardResponse(status="ok")


Handler = Callable[[Task], Awaitable[TaskReport]]


class FakeApp:
    """An app whose dispatch calls `handler` (default: succeed at once)."""

    def __init__(
        self,
        app_id: str = "shop",
        version: str = "v1",
        handler: Handler | None = None,
        health: AppHealthReportRequest | None = None,
    ) -> None:
        self.app_id = app_id
        self.version = version
        self.handler = handler
        self.health = health
        self.health_calls = 0
        self.calls: list[str] = []
        self.running = 0
        self.max_running = 0
        self.timeouts: list[float | None] = []
        self.limiters: list[anyio.CapacityLimiter | None] = []

    async def dispatch(
        self,
        task: Task,
        *,
        timeout: float | None = None,
        thread_limiter: anyio.CapacityLimiter | None = None,
    ) -> TaskReport:
        self.calls.append(task.task_id)
        self.timeouts.append(timeout)
        self.limiters.append(thread_limiter)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.handler is None:
                await anyio.lowlevel.checkpoint()
                return ok_report(task)
            return await self.handler(task)
        finally:
            self.running -= 1

    async def check_health(self, *, timeout: float = 30.0) -> AppHealthReportRequest | None:
        self.health_calls += 1
        return self.health

    def describe(self) -> ConnectRequest:
        return ConnectRequest(app_id=self.app_id, version=self.version, resources=[])

    def serving(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return contextlib.nullcontext()

    def limits_for(self, resource_type: str, action: str | None = None) -> Limits:
        return NO_LIMITS


def healthy(app_id: str = "shop", version: str = "v1") -> AppHealthReportRequest:
    """A health report saying everything is fine."""
    return AppHealthReportRequest(
        app_id=app_id,
        version=version,
        health_reports=[AppHealthReportItem(type="example", status="healthy")],
    )
