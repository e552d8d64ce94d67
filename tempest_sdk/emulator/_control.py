"""The emulator's control-plane state as a test sets it: tasks, faults, seeded objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

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
from ._faults import DropWhen, Fault, MalformedKind
from ._state import TaskStore
from ._tasks import EnvironmentInput, action_request, list_request, operation_request

__all__ = ["ControlPlane"]


class ControlPlane:
    """What a test puts into an emulator: tasks to hand out, faults, seeded objects."""

    _core: Core

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
            resource_id=self._core.new_id("res"),
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
            resource_id=self._core.new_id("res"),
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
        return self._core.enqueue(app_id, version, task, metadata=metadata, task_id=task_id)

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

    def add_resource(self, resource: Resource | Mapping[str, Any]) -> Resource:
        """Make a resource available to `resources.get` and `resources.list`.

        A resource without `id` gets one.
        """
        data = _wire(resource)
        data.setdefault("id", self._core.new_id("res"))
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
