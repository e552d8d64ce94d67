"""The emulator's control-plane state as a test sets it: tasks, faults, seeded objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, Unpack

from pydantic import BaseModel, ValidationError

from ..models import (
    Operation,
    Project,
    Recipe,
    Resource,
    TaskMetadata,
    WireModel,
    describe_errors,
)
from ._core import ENDPOINTS, Core
from ._faults import Fault, FaultOptions
from ._state import TaskStore
from ._tasks import (
    ResourceTaskOptions,
    action_request,
    build_answer,
    list_request,
    operation_request,
    type_and_operation,
)

__all__ = ["ControlPlane"]


class ControlPlane:
    """What a test puts into an emulator: tasks to hand out, faults, seeded objects."""

    _core: Core

    def enqueue_operation(
        self,
        app_id: str,
        version: str,
        resource_type: str,
        operation: Operation | str,
        *,
        metadata: Mapping[str, Any] | TaskMetadata | None = None,
        **options: Unpack[ResourceTaskOptions],
    ) -> str:
        """Enqueue a create, read, update or delete task; return its task id.

        Args:
            app_id: the app id whose queue gets the task.
            version: the app version whose queue gets the task.
            resource_type: the resource type, e.g. `"example"`.
            operation: `create`, `read`, `update` or `delete`. The old order,
                operation first (`enqueue_operation(app, "v1", "create", "example")`),
                still works with a `DeprecationWarning`; a type named like an
                operation is read as written, type first.
            metadata: the task's metadata (owners, author, project); default: realistic.
            **options: `external_id`, `display_name`, `input`, `properties` and
                `environment_variables` (see `ResourceTaskOptions`); by default one
                variable and one secret.
        """
        resource_type, op = type_and_operation(resource_type, operation, "enqueue_operation")
        request = operation_request(resource_type, op, resource_id=self._new_id(), **options)
        return self.enqueue(app_id, version, request, metadata=metadata)

    def enqueue_action(
        self,
        app_id: str,
        version: str,
        resource_type: str,
        action: str,
        *,
        metadata: Mapping[str, Any] | TaskMetadata | None = None,
        **options: Unpack[ResourceTaskOptions],
    ) -> str:
        """Enqueue an action task on a resource; return its task id.

        Arguments are those of `enqueue_operation`, with `action` the action's name.
        """
        request = action_request(resource_type, action, resource_id=self._new_id(), **options)
        return self.enqueue(app_id, version, request, metadata=metadata)

    def _new_id(self) -> str:
        return self._core.new_id("res")

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
        answer = build_answer(task_id or self._core.new_id(), task, metadata)
        return self._core.enqueue(app_id, version, answer)

    def inject(self, endpoint: str, **options: Unpack[FaultOptions]) -> Fault:
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
        fault = Fault(endpoint, endpoints=ENDPOINTS, **options)
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

    def add_resource(self, resource: Resource | Mapping[str, Any]) -> Resource:
        """Make a resource available to `resources.get` and `resources.list`.

        A resource without `id` gets one.
        """
        data = _wire(resource)
        data.setdefault("id", self._new_id())
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


def _wire(item: WireModel | Mapping[str, Any]) -> dict[str, Any]:
    return item.to_wire() if isinstance(item, WireModel) else dict(item)


M = TypeVar("M", bound=WireModel)


def _checked(model: type[M], data: dict[str, Any], what: str) -> M:
    try:
        return model.from_wire(data)
    except ValidationError as exc:
        raise ValueError(f"invalid {what}: {describe_errors(exc)}") from None
