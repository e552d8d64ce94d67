"""`Emulator`: a local control plane for developing and testing private apps."""

from __future__ import annotations

import copy
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import anyio.to_thread
from pydantic import BaseModel, ValidationError

from ..models import (
    MalformedTaskError,
    Operation,
    Project,
    Recipe,
    Resource,
    Task,
    TaskMetadata,
    WireModel,
    describe_errors,
    parse_task,
)
from ..models._base import WIRE_CONTEXT
from ._core import ENDPOINTS, IN_PROCESS_ROOT, Answer, Core, Violation
from ._faults import DropWhen, Fault, MalformedKind
from ._server import ServerThread
from ._state import TaskRecord, TaskState, TaskStore
from ._tasks import (
    DEFAULT_PROJECT,
    EnvironmentInput,
    action_request,
    list_request,
    next_answer,
    operation_request,
)
from ._transport import EmulatorTransport

if TYPE_CHECKING:
    from ..client import AsyncTempestClient, TempestClient

__all__ = ["DEFAULT_TOKEN", "Emulator"]

DEFAULT_TOKEN: Final = "emulator-token"
"""The bearer token an `Emulator` accepts unless given another."""


class Emulator:
    """A local emulator of the Tempest control plane that speaks the contract exactly.

    It checks every request body against the contract (a bad one gets a 400 saying
    what is wrong and where, and is recorded in `violations`), keeps a FIFO task
    queue per app id and version, leases each handed-out task and hands it out again
    when no report arrives within `lease_timeout` (at least once, like Tempest),
    records reports, connects and health reports, and injects faults on demand.

    Reach it over a real loopback socket (`serve_in_thread()`, `serve()`) or in
    process without sockets (`transport()`); `client()` gives a client set up for
    whichever is in use. Every method is thread-safe.

    Args:
        token: the bearer token clients must send.
        base_path: the path the ten endpoints live under.
        lease_timeout: seconds a handed-out task waits for its report before it is
            handed out again.
        seed: makes task ids and probabilistic faults reproducible.
        clock: the monotonic clock leases are measured with (seconds); tests pass a
            fake one to expire leases without waiting.
        page_size: items per page of `resources.list`, `projects.list`, `recipes.list`.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        base_path: str = "/api/v1",
        lease_timeout: float = 30.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = 50,
    ) -> None:
        if not token or token.strip() != token:
            raise ValueError("token must be a non-empty string without surrounding whitespace")
        base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        _check_positive("lease_timeout", lease_timeout)
        _check_page_size(page_size)
        self._core = Core(
            token=token,
            base_path=base_path,
            lease_timeout=float(lease_timeout),
            rng=random.Random(seed),
            clock=clock,
            page_size=page_size,
        )
        self.add_project(DEFAULT_PROJECT)

    def __repr__(self) -> str:
        with self._core.lock:
            tasks = len(self._core.store.tasks)
        return f"<Emulator {self.url} tasks={tasks}>"

    # -- configuration -------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The bearer token clients must send."""
        return self._core.token

    @property
    def base_path(self) -> str:
        """The path the endpoints live under, e.g. `/api/v1`."""
        return self._core.base_path

    @property
    def url(self) -> str:
        """The API base URL: `http://127.0.0.1:<port>/api/v1` while serving.

        When not serving it points at port 0, which never answers: use it with
        `transport()` (as `client()` does).
        """
        return self._core.root_url + self._core.base_path

    @property
    def serving(self) -> bool:
        """Whether a socket server is running for this emulator."""
        return self._core.root_url != IN_PROCESS_ROOT

    @property
    def lease_timeout(self) -> float:
        """Seconds a handed-out task waits for its report before it is handed out again."""
        return self._core.lease_timeout

    @lease_timeout.setter
    def lease_timeout(self, value: float) -> None:
        _check_positive("lease_timeout", value)
        with self._core.lock:
            self._core.lease_timeout = float(value)

    def set_page_size(self, page_size: int) -> None:
        """Set how many items a page of the `*.list` endpoints holds."""
        _check_page_size(page_size)
        with self._core.lock:
            self._core.page_size = page_size

    # -- serving -------------------------------------------------------------------------

    @contextmanager
    def serve_in_thread(self, *, port: int = 0) -> Iterator[Emulator]:
        """Serve on 127.0.0.1 from background threads for the block.

        Args:
            port: the port; 0 picks a free one (read it from `url`).
        """
        server = self._start(port)
        try:
            yield self
        finally:
            self._core.root_url = IN_PROCESS_ROOT
            server.stop()

    @asynccontextmanager
    async def serve(self, *, port: int = 0) -> AsyncIterator[Emulator]:
        """Serve on 127.0.0.1 for the block, from an async context (asyncio or trio).

        The server runs in background threads, so it never competes with the event
        loop for time, and stopping it never blocks the loop.

        Args:
            port: the port; 0 picks a free one (read it from `url`).
        """
        server = self._start(port)
        try:
            yield self
        finally:
            self._core.root_url = IN_PROCESS_ROOT
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(server.stop)

    def _start(self, port: int) -> ServerThread:
        with self._core.lock:
            if self._core.root_url != IN_PROCESS_ROOT:
                raise RuntimeError(f"this emulator is already serving at {self.url}")
            server = ServerThread(self._core, port)
            self._core.root_url = f"http://127.0.0.1:{server.port}"
        server.start()
        return server

    def transport(self) -> EmulatorTransport:
        """An httpx transport (sync and async) that reaches this emulator without sockets."""
        return EmulatorTransport(self._core)

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one HTTP request (for custom servers); header names in lowercase."""
        return self._core.handle(method, target, headers, body)

    def client(self, **kwargs: Any) -> AsyncTempestClient:
        """An `AsyncTempestClient` for this emulator: its URL and token, and its
        in-process transport when it is not serving. Keyword arguments go to the client.
        """
        from ..client import AsyncTempestClient

        kwargs.setdefault("token", self.token)
        kwargs.setdefault("endpoint", self.url)
        if not self.serving and "http_client" not in kwargs:
            kwargs.setdefault("transport", self.transport())
        return AsyncTempestClient(**kwargs)

    def sync_client(self, **kwargs: Any) -> TempestClient:
        """A `TempestClient` (synchronous) for this emulator, like `client()`."""
        from ..client import TempestClient

        kwargs.setdefault("token", self.token)
        kwargs.setdefault("endpoint", self.url)
        if not self.serving and "http_client" not in kwargs:
            kwargs.setdefault("transport", self.transport())
        return TempestClient(**kwargs)

    # -- tasks ---------------------------------------------------------------------------

    def enqueue_operation(
        self,
        app_id: str,
        version: str,
        operation: Operation | str,
        resource_type: str,
        *,
        external_id: str = "",
        display_name: str | None = None,
        input: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        environment_variables: EnvironmentInput = None,
        metadata: Mapping[str, Any] | TaskMetadata | None = None,
    ) -> str:
        """Enqueue a create, read, update or delete task; return its task id.

        Args:
            app_id: the app id whose queue gets the task.
            version: the app version whose queue gets the task.
            operation: `create`, `read`, `update` or `delete`.
            resource_type: the resource type, e.g. `"example"`.
            external_id: the resource's external id (empty for a create).
            display_name: the resource's display name (default: the external id).
            input: the operation's input (default `{}` for create and update, none else).
            properties: the resource's current properties.
            environment_variables: `{name: value}`, a list of `EnvironmentVariable`
                or `{name, value, type}`; default: one variable and one secret.
            metadata: the task's metadata (owners, author, project); default: realistic.
        """
        request = operation_request(
            operation,
            resource_type,
            external_id=external_id,
            display_name=display_name,
            input=input,
            properties=properties,
            environment_variables=environment_variables,
            resource_id=self._new_id("res"),
        )
        return self.enqueue(app_id, version, request, metadata=metadata)

    def enqueue_action(
        self,
        app_id: str,
        version: str,
        resource_type: str,
        action: str,
        *,
        external_id: str = "",
        display_name: str | None = None,
        input: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        environment_variables: EnvironmentInput = None,
        metadata: Mapping[str, Any] | TaskMetadata | None = None,
    ) -> str:
        """Enqueue an action task on a resource; return its task id.

        Arguments are those of `enqueue_operation`, with `action` the action's name.
        """
        request = action_request(
            resource_type,
            action,
            external_id=external_id,
            display_name=display_name,
            input=input,
            properties=properties,
            environment_variables=environment_variables,
            resource_id=self._new_id("res"),
        )
        return self.enqueue(app_id, version, request, metadata=metadata)

    def enqueue_list(
        self,
        app_id: str,
        version: str,
        resource_type: str,
        *,
        next: str = "",
        metadata: Mapping[str, Any] | TaskMetadata | None = None,
    ) -> str:
        """Enqueue a list task for one page (`next=""`: the first); return its task id."""
        return self.enqueue(app_id, version, list_request(resource_type, next), metadata=metadata)

    def enqueue(
        self,
        app_id: str,
        version: str,
        task: Mapping[str, Any] | BaseModel,
        *,
        metadata: Mapping[str, Any] | TaskMetadata | None = None,
        task_id: str | None = None,
    ) -> str:
        """Enqueue any task (a `task` object of the contract, as a dict or a model).

        Args:
            app_id: the app id whose queue gets the task.
            version: the app version whose queue gets the task.
            task: the task request (`request_type` and its fields).
            metadata: the task's metadata; default: realistic owners, author, project.
            task_id: the task id; default: a fresh UUID.

        Raises:
            ValueError: the task breaks the contract (the message says where), or the
                task id is taken.
        """
        answer = next_answer(task_id or self._new_id(), task, metadata)
        try:
            parse_task(answer)
        except MalformedTaskError as exc:  # pragma: no cover - the shape check comes first
            raise ValueError(f"cannot enqueue this task: {exc}") from None
        with self._core.lock:
            record = self._core.store.add(answer["task_id"], app_id, version, answer)
            record.queued_at = self._core.clock()
        return record.task_id

    def _new_id(self, prefix: str = "") -> str:
        with self._core.lock:
            value = uuid.UUID(int=self._core.rng.getrandbits(128), version=4)
        return f"{prefix}_{value.hex[:12]}" if prefix else str(value)

    # -- faults --------------------------------------------------------------------------

    def inject(
        self,
        endpoint: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        latency: float = 0.0,
        drop: bool | DropWhen = False,
        malformed: MalformedKind | None = None,
        probability: float = 1.0,
        times: int | None = None,
        message: str | None = None,
    ) -> Fault:
        """Inject a fault into an endpoint (`"*"`: every endpoint); return it.

        A fault does one thing, optionally after `latency` seconds: answer `status`
        (with a `Retry-After` of `retry_after` seconds if given, and `message` as the
        error), drop the connection (`drop=True` or `"before"`: the request is lost;
        `"after"`: it is handled, then the answer is lost), or break the task handed
        out by `next` (`malformed="bad_json" | "unknown_request_type" |
        "missing_fields"`; the task is leased as usual). `latency` alone delays the
        answer. It fires `times` times at most (default: until cleared), each time with
        `probability`. The first fault that fires applies; `Fault.count` says how often
        it did.

        Raises:
            ValueError: an unknown endpoint or an inconsistent fault.
        """
        fault = Fault(
            endpoint,
            endpoints=ENDPOINTS,
            status=status,
            retry_after=retry_after,
            latency=latency,
            drop=drop,
            malformed=malformed,
            probability=probability,
            times=times,
            message=message,
        )
        with self._core.lock:
            self._core.faults.add(fault)
        return fault

    def clear_faults(self, endpoint: str | None = None) -> None:
        """Remove every injected fault, or those injected for `endpoint`."""
        with self._core.lock:
            self._core.faults.clear(endpoint)

    @property
    def faults(self) -> list[Fault]:
        """The injected faults, in injection order."""
        with self._core.lock:
            return list(self._core.faults)

    # -- read-only endpoints ---------------------------------------------------------------

    def add_resource(self, resource: Resource | Mapping[str, Any]) -> Resource:
        """Make a resource available to `resources.get` and `resources.list`.

        A resource without `id` gets one.
        """
        data = _wire(resource)
        data.setdefault("id", self._new_id("res"))
        found = _checked(Resource, data, "resource")
        self._seed("resources", data)
        return found

    def add_project(self, project: Project | Mapping[str, Any]) -> Project:
        """Make a project available to `projects.get` and `projects.list`."""
        data = _wire(project)
        found = _checked(Project, data, "project")
        self._seed("projects", data)
        return found

    def add_recipe(self, recipe: Recipe | Mapping[str, Any]) -> Recipe:
        """Make a recipe available to `recipes.get` and `recipes.list`."""
        data = _wire(recipe)
        found = _checked(Recipe, data, "recipe")
        self._seed("recipes", data)
        return found

    def _seed(self, kind: str, data: dict[str, Any]) -> None:
        with self._core.lock:
            self._core.seeded.of(kind)[data["id"]] = data

    # -- inspection ------------------------------------------------------------------------

    def queued(self, app_id: str | None = None, version: str | None = None) -> list[str]:
        """Ids of the tasks waiting to be handed out, in queue order."""
        return self._ids("queued", app_id, version)

    def leased(self, app_id: str | None = None, version: str | None = None) -> list[str]:
        """Ids of the tasks handed out and awaiting a report, with their lease running."""
        return self._ids("leased", app_id, version)

    def reported(self, app_id: str | None = None, version: str | None = None) -> list[str]:
        """Ids of the tasks with at least one report, in the order they were reported."""
        return self._ids("reported", app_id, version)

    def _ids(self, state: TaskState, app_id: str | None, version: str | None) -> list[str]:
        core = self._core
        with core.lock:
            core.store.expire(core.clock())
            ids = core.store.in_state(state)
            tasks = core.store.tasks
            return [
                i
                for i in ids
                if (app_id is None or tasks[i].app_id == app_id)
                and (version is None or tasks[i].version == version)
            ]

    def task(self, task_id: str) -> Task:
        """The task as `next` hands it out (secrets stay masked in its repr)."""
        with self._core.lock:
            answer = self._record(task_id).answer
        return Task.model_validate(answer, context=WIRE_CONTEXT)

    def reports(self, task_id: str) -> list[dict[str, Any]]:
        """Every report received for a task, duplicates included, in arrival order."""
        with self._core.lock:
            return copy.deepcopy(self._record(task_id).reports)

    def timing(self, task_id: str) -> tuple[float | None, float | None]:
        """Seconds a task waited to be handed out, and from then to its first report
        (the handler's time, plus the report's trip); None where it has not happened."""
        with self._core.lock:
            record = self._record(task_id)
            leased, reported = record.leased_at, record.reported_at
            wait = leased - record.queued_at if leased is not None else None
            run = reported - leased if reported is not None and leased is not None else None
            return wait, run

    def deliveries(self, task_id: str) -> int:
        """How many times `next` handed the task out."""
        with self._core.lock:
            return self._record(task_id).deliveries

    def _record(self, task_id: str) -> TaskRecord:
        record = self._core.store.tasks.get(task_id)
        if record is None:
            raise KeyError(f"no task {task_id!r} was enqueued on this emulator")
        return record

    @property
    def duplicate_reports(self) -> int:
        """How many reports arrived for tasks that were already reported."""
        with self._core.lock:
            return self._core.store.duplicate_reports

    @property
    def connects(self) -> list[dict[str, Any]]:
        """Every accepted `apps.version.connect` body, in arrival order."""
        with self._core.lock:
            return copy.deepcopy(self._core.connects)

    @property
    def health_reports(self) -> list[dict[str, Any]]:
        """Every accepted `apps.versions.health` body, in arrival order."""
        with self._core.lock:
            return copy.deepcopy(self._core.health_reports)

    @property
    def request_counts(self) -> Counter[tuple[str, int]]:
        """Requests by `(endpoint, status)`; dropped connections count as status 0."""
        with self._core.lock:
            return Counter(self._core.request_counts)

    @property
    def violations(self) -> list[Violation]:
        """Every request rejected for breaking the contract, in arrival order."""
        with self._core.lock:
            return list(self._core.violations)

    def reset(self) -> None:
        """Forget tasks, reports, connects, health reports, counts, violations and faults.

        Seeded resources, projects and recipes stay.
        """
        core = self._core
        with core.lock:
            core.store = TaskStore()
            core.faults.clear()
            core.connects.clear()
            core.health_reports.clear()
            core.request_counts.clear()
            core.violations.clear()

    # -- waiting -----------------------------------------------------------------------------

    def wait_for_reports(self, n: int = 1, timeout: float = 10.0) -> list[str]:
        """Block until `n` distinct tasks are reported; return the reported task ids.

        Raises:
            TimeoutError: fewer were reported within `timeout` seconds; the message
                says how far it got and the last violation, if any.
        """
        self._wait(
            lambda: len(self._core.store.reported_order) >= n, timeout, f"{n} reported tasks"
        )
        return self.reported()

    async def wait_for_reports_async(self, n: int = 1, timeout: float = 10.0) -> list[str]:
        """Like `wait_for_reports`, without blocking the event loop."""
        await self._wait_async(
            lambda: len(self._core.store.reported_order) >= n, timeout, f"{n} reported tasks"
        )
        return self.reported()

    def wait_for_connects(self, n: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until `n` connects were accepted; return them."""
        self._wait(lambda: len(self._core.connects) >= n, timeout, f"{n} connects")
        return self.connects

    async def wait_for_connects_async(
        self, n: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Like `wait_for_connects`, without blocking the event loop."""
        await self._wait_async(lambda: len(self._core.connects) >= n, timeout, f"{n} connects")
        return self.connects

    def wait_for_health_reports(self, n: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until `n` health reports were accepted; return them."""
        self._wait(lambda: len(self._core.health_reports) >= n, timeout, f"{n} health reports")
        return self.health_reports

    async def wait_for_health_reports_async(
        self, n: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Like `wait_for_health_reports`, without blocking the event loop."""
        await self._wait_async(
            lambda: len(self._core.health_reports) >= n, timeout, f"{n} health reports"
        )
        return self.health_reports

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        with self._core.changed:
            if self._core.changed.wait_for(done, timeout):
                return
        raise TimeoutError(self._timeout_message(what, timeout))

    async def _wait_async(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        # Polling, because the state changes in whichever thread serves the request.
        delay = 0.001
        with anyio.move_on_after(timeout):
            while True:
                with self._core.lock:
                    if done():
                        return
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.02)
        raise TimeoutError(self._timeout_message(what, timeout))

    def _timeout_message(self, what: str, timeout: float) -> str:
        core = self._core
        with core.lock:
            core.store.expire(core.clock())
            store = core.store
            state = (
                f"{len(store.reported_order)} reported, {len(store.in_state('leased'))} leased, "
                f"{len(store.in_state('queued'))} queued; {len(core.connects)} connects, "
                f"{len(core.health_reports)} health reports, {sum(core.request_counts.values())} "
                f"requests, {len(core.violations)} violations"
            )
            last = f"; last violation: {core.violations[-1].message}" if core.violations else ""
        return f"waited {timeout:g} s for {what}: {state}{last}"


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


def _check_page_size(page_size: int) -> None:
    if not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size must be an integer >= 1, not {page_size!r}")


def _wire(item: WireModel | Mapping[str, Any]) -> dict[str, Any]:
    return item.to_wire() if isinstance(item, WireModel) else dict(item)


M = TypeVar("M", bound=WireModel)


def _checked(model: type[M], data: dict[str, Any], what: str) -> M:
    try:
        return model.model_validate(data, context=WIRE_CONTEXT)
    except ValidationError as exc:
        raise ValueError(f"invalid {what}: {describe_errors(exc)}") from None
