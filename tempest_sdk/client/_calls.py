"""The ten calls of the contract as data: path, body and answer parser, free of I/O.

Both clients turn a `Call` into HTTP the same way (`_base.BaseClient`); only how they
wait differs. Adding an endpoint means adding a builder here and a one-line method to
each client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import httpx

from ..models import (
    AppHealthReportRequest,
    AppRequest,
    ConnectRequest,
    ListProjectsResponse,
    ListRecipesResponse,
    ListResourcesResponse,
    Project,
    Recipe,
    RequestObjectById,
    RequestPaginatedObjects,
    Resource,
    StandardResponse,
    Task,
    TaskReport,
    WireModel,
    parse_task,
)

__all__ = [
    "PROJECTS",
    "RECIPES",
    "RESOURCES",
    "Call",
    "Listing",
    "connect_app_version_call",
    "get_project_call",
    "get_recipe_call",
    "get_resource_call",
    "list_projects_call",
    "list_recipes_call",
    "list_resources_call",
    "next_task_call",
    "report_call",
    "report_health_call",
]

T = TypeVar("T")
M = TypeVar("M", bound=WireModel)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One call: the contract path, the body to send and how to read a 2xx answer.

    `parse` may raise `pydantic.ValidationError`; the client turns it into an
    `APIResponseValidationError` naming the endpoint and the field paths.
    """

    endpoint: str
    body: WireModel
    parse: Callable[[httpx.Response], T]


def _reader(model: type[M]) -> Callable[[httpx.Response], M]:
    def parse(response: httpx.Response) -> M:
        return model.from_wire(response.content)

    return parse


def _task_or_none(response: httpx.Response) -> Task | None:
    # 204 is "no task now"; parse_task's own errors carry the task id for reporting.
    if response.status_code == 204:
        return None
    return parse_task(response.content)


_standard = _reader(StandardResponse)


def connect_app_version_call(request: ConnectRequest) -> Call[StandardResponse]:
    """`/apps.version.connect`: declare an app version's resource types."""
    return Call("/apps.version.connect", request, _standard)


def next_task_call(app_id: str, version: str) -> Call[Task | None]:
    """`/apps.operations.next`: the next task for an app version, None when there is none."""
    return Call("/apps.operations.next", AppRequest(app_id=app_id, version=version), _task_or_none)


def report_call(report: TaskReport) -> Call[StandardResponse]:
    """`/apps.operations.report`: the outcome of a task."""
    return Call("/apps.operations.report", report, _standard)


def report_health_call(request: AppHealthReportRequest) -> Call[StandardResponse]:
    """`/apps.versions.health`: the health of an app version's resource types."""
    return Call("/apps.versions.health", request, _standard)


def _page(next: str | None) -> RequestPaginatedObjects:
    # The first page is asked for without `next` at all.
    return RequestPaginatedObjects(next=next) if next else RequestPaginatedObjects()


def get_resource_call(id: str) -> Call[Resource]:
    """`/resources.get`."""
    return Call("/resources.get", RequestObjectById(id=id), _reader(Resource))


def list_resources_call(next: str | None = None) -> Call[ListResourcesResponse]:
    """`/resources.list`: one page."""
    return Call("/resources.list", _page(next), _reader(ListResourcesResponse))


def get_project_call(id: str) -> Call[Project]:
    """`/projects.get`."""
    return Call("/projects.get", RequestObjectById(id=id), _reader(Project))


def list_projects_call(next: str | None = None) -> Call[ListProjectsResponse]:
    """`/projects.list`: one page."""
    return Call("/projects.list", _page(next), _reader(ListProjectsResponse))


def get_recipe_call(id: str) -> Call[Recipe]:
    """`/recipes.get`."""
    return Call("/recipes.get", RequestObjectById(id=id), _reader(Recipe))


def list_recipes_call(next: str | None = None) -> Call[ListRecipesResponse]:
    """`/recipes.list`: one page."""
    return Call("/recipes.list", _page(next), _reader(ListRecipesResponse))


class Page(Protocol):
    """A page of a listing: its cursor is `next` (`""` on the last page)."""

    @property
    def next(self) -> str: ...


P = TypeVar("P", bound=Page)
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class Listing(Generic[P, Item]):
    """How to walk a paginated endpoint: ask for a page by cursor, take its items."""

    page: Callable[[str | None], Call[P]]
    items: Callable[[P], Sequence[Item]]


RESOURCES: Listing[ListResourcesResponse, Resource] = Listing(
    list_resources_call, lambda page: page.resources
)
PROJECTS: Listing[ListProjectsResponse, Project] = Listing(
    list_projects_call, lambda page: page.projects
)
RECIPES: Listing[ListRecipesResponse, Recipe] = Listing(
    list_recipes_call, lambda page: page.recipes
)
