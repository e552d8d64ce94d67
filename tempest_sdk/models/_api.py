"""Answers of the control plane, and the objects of its read-only endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict

from ._base import WireModel
from ._enums import ReportStatus


class Metadata(WireModel):
    """Extra facts in a `StandardResponse`; `tempest_app_url` links to the app in Tempest."""

    tempest_app_url: str | None = None


class StandardResponse(WireModel):
    """The control plane's usual answer."""

    status: ReportStatus
    message: str | None = None
    metadata: Metadata | None = None
    error: str | None = None


class ErrorResponse(WireModel):
    """The body of an error answer."""

    status: Literal["error"] = "error"
    error: str


class Project(WireModel):
    """A Tempest project."""

    id: str
    name: str
    organization_id: str
    type: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    from_recipe: str | None = None
    published: bool | None = None
    team_id: str | None = None


class Recipe(WireModel):
    """A Tempest recipe."""

    id: str
    name: str
    type: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    public: bool | None = None
    published: bool | None = None
    team_id: str | None = None


class ListProjectsResponse(WireModel):
    """A page of projects; `next` is `""` on the last page."""

    projects: list[Project]
    next: str = ""


class ListRecipesResponse(WireModel):
    """A page of recipes; `next` is `""` on the last page."""

    recipes: list[Recipe]
    next: str = ""


class RequestObjectById(WireModel):
    """The body of every `*.get` call."""

    model_config = ConfigDict(extra="forbid")

    id: str


class RequestPaginatedObjects(WireModel):
    """The body of every `*.list` call; omit `next` for the first page."""

    model_config = ConfigDict(extra="forbid")

    next: str | None = None
