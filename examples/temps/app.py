"""Temps: a private app that manages projects, environments, variables and deployments
of Temps, a deployment platform, through its REST API.

    TEMPS_URL=https://your-temps-instance/api TEMPS_TOKEN=... \\
        tempest-sdk serve examples/temps/app.py --emulator    # against the local emulator
    python examples/temps/app.py                              # against Tempest (TEMPEST_TOKEN)

External ids: a project is known by its Temps id (`"12"`); the others live inside a
project, so theirs carry the project's id first: environment `"12/3"`, environment
variable `"12/45"`, deployment `"12/678"`. See README.md.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

import httpx
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, StringConstraints
from pydantic_settings import BaseSettings, SettingsConfigDict
from temps_client import (
    Deployment,
    DeploymentAction,
    Environment,
    EnvVar,
    Project,
    TempsClient,
    TempsError,
    TempsNotFound,
    TempsPage,
)

import tempest_sdk as tempest

app = tempest.App("temps", "v1")

_Item = TypeVar("_Item", bound=BaseModel)


# Settings and the shared client


class TempsSettings(BaseSettings):
    """Where Temps is and how to reach it, from the environment or mounted secret files.

    `TEMPS_URL`, `TEMPS_TOKEN`, `TEMPS_TIMEOUT`, `TEMPS_PAGE_SIZE`; the token may
    also be the file `/run/secrets/temps_token` (a Kubernetes secret mounted there).
    """

    model_config = SettingsConfigDict(env_prefix="TEMPS_", secrets_dir="/run/secrets")

    url: AnyHttpUrl = Field(description="Temps' API base URL: https://your-temps-instance/api")
    token: SecretStr = Field(description="A Temps API key (Settings > API Keys in Temps).")
    timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for each answer of Temps."
    )
    page_size: int = Field(default=20, ge=1, le=100, description="Items per page asked of Temps.")


@dataclass(frozen=True)
class Services:
    """What every handler shares while the app serves: the settings and the Temps client."""

    settings: TempsSettings
    temps: TempsClient


@app.lifespan
async def services() -> AsyncIterator[Services]:
    """Read the settings and open one HTTP client to Temps for every task; close it at the end."""
    settings = tempest.load_settings(TempsSettings)
    async with httpx.AsyncClient(
        base_url=str(settings.url),
        headers={
            "Authorization": f"Bearer {settings.token.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": "tempest-temps-app/1",
        },
        timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 5.0)),
    ) as http:
        yield Services(settings, TempsClient(http, page_size=settings.page_size))


# External ids and list cursors

_NUMBER = re.compile(r"[0-9]+")
_CHILD_ID = re.compile(r"([0-9]+)/([0-9]+)")
_POSITION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")
# Temps calls one list task may make while it looks for projects with children: a
# listing over many empty projects still answers well within the list timeout.
_SCAN_BUDGET = 25


def _project_id(external_id: str) -> int:
    if not _NUMBER.fullmatch(external_id):
        raise tempest.InvalidInputError(
            f"{external_id!r} is not a Temps project id: expected its number, like '12'"
        )
    return int(external_id)


def _child_id(external_id: str, kind: str, example: str) -> tuple[int, int]:
    """`"12/3"` → `(12, 3)`: the project's id, then the id of the thing inside it."""
    match = _CHILD_ID.fullmatch(external_id)
    if match is None:
        raise tempest.InvalidInputError(
            f"{external_id!r} is not a Temps {kind} id: expected "
            f"'<project id>/<{kind} id>', like {example!r}"
        )
    return int(match[1]), int(match[2])


def _page_number(cursor: str) -> int:
    if not cursor:
        return 1
    if not _NUMBER.fullmatch(cursor) or int(cursor) < 1:
        raise tempest.InvalidInputError(
            f"list cursor {cursor!r} is not a Temps page number (1, 2, ...)"
        )
    return int(cursor)


@dataclass(frozen=True)
class _Position:
    """Where a listing of things inside projects stands, as its cursor says:
    `"<page of projects>.<index of the project on it>.<page of its things>"`."""

    project_page: int = 1
    index: int = 0
    page: int = 1

    @classmethod
    def parse(cls, cursor: str) -> _Position:
        if not cursor:
            return cls()
        match = _POSITION.fullmatch(cursor)
        if match is None or int(match[1]) < 1 or int(match[3]) < 1:
            raise tempest.InvalidInputError(
                f"list cursor {cursor!r} is not one this app hands out: expected "
                "'<project page>.<project index>.<page>', like '1.0.2'"
            )
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.project_page}.{self.index}.{self.page}"


async def _list_inside_projects(
    cursor: str,
    temps: TempsClient,
    fetch: Callable[[int, int], Awaitable[TempsPage[_Item]]],
    as_resource: Callable[[int, _Item], tempest.Resource],
) -> tempest.Page:
    """One page of things that live inside projects (Temps lists them per project).

    Each page of the listing is one Temps page of one project's things; projects
    without any are skipped.
    """
    at = _Position.parse(cursor)
    projects = await temps.list_projects(at.project_page)
    for _ in range(_SCAN_BUDGET):
        if at.index >= len(projects.items):
            if projects.next_page is None:
                return tempest.Page(resources=[], next="")
            at = _Position(projects.next_page)
            projects = await temps.list_projects(at.project_page)
            continue
        project_id = projects.items[at.index].id
        try:
            found = await fetch(project_id, at.page)
        except TempsNotFound:  # deleted since the page of projects was read
            at = _Position(at.project_page, at.index + 1)
            continue
        if found.next_page is not None:
            at = _Position(at.project_page, at.index, found.next_page)
        else:
            at = _Position(at.project_page, at.index + 1)
        if found.items:
            done = at.index >= len(projects.items) and projects.next_page is None
            return tempest.Page(
                resources=[as_resource(project_id, item) for item in found.items],
                next="" if done else str(at),
            )
    # Out of budget: an empty page whose cursor carries on where this one stopped.
    return tempest.Page(resources=[], next=str(at))


# Models: what Tempest shows (properties), what users fill in (inputs), what actions answer

_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
_VariableKey = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=255)
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectProperties(BaseModel):
    """A project, as Tempest shows it."""

    id: int = Field(title="Project ID")
    name: str = Field(title="Name")
    slug: str = Field(title="Slug")
    repo_owner: str | None = Field(default=None, title="Repository owner")
    repo_name: str | None = Field(default=None, title="Repository")
    main_branch: str = Field(title="Main branch")
    directory: str = Field(title="Directory")
    preset: str | None = Field(default=None, title="Build preset")
    created_at: datetime | None = Field(default=None, title="Created")


class NewProject(_Input):
    """A project to create."""

    name: _Name = Field(title="Name", examples=["my-app"])
    repo_owner: str | None = Field(default=None, title="Repository owner", examples=["acme"])
    repo_name: str | None = Field(default=None, title="Repository", examples=["my-app"])
    main_branch: str = Field(
        default="main", title="Main branch", description="The branch to deploy."
    )
    directory: str = Field(
        default=".", title="Directory", description="Its folder in the repository."
    )
    preset: str = Field(
        default="nixpacks", title="Build preset", description="How Temps builds it."
    )


class ProjectChanges(_Input):
    """The fields of a project to change; those left empty keep their value."""

    name: _Name | None = Field(default=None, title="Name", examples=["my-app-renamed"])
    main_branch: str | None = Field(default=None, title="Main branch", examples=["release"])
    directory: str | None = Field(default=None, title="Directory")
    preset: str | None = Field(default=None, title="Build preset")


class PipelineInput(_Input):
    """What to build and deploy; Temps deploys the project's main branch when all are empty."""

    branch: str | None = Field(default=None, title="Branch", examples=["main"])
    tag: str | None = Field(default=None, title="Tag")
    commit: str | None = Field(default=None, title="Commit")
    environment_id: int | None = Field(
        None, ge=1, title="Environment ID", description="Empty: Temps' default environment."
    )


class PipelineOutput(BaseModel):
    """What Temps started."""

    message: str = Field(title="Message")
    project_id: int = Field(title="Project ID")
    environment_id: int = Field(title="Environment ID")
    branch: str | None = Field(default=None, title="Branch")
    tag: str | None = Field(default=None, title="Tag")
    commit: str | None = Field(default=None, title="Commit")


class EnvironmentProperties(BaseModel):
    """An environment, as Tempest shows it."""

    project_id: int = Field(title="Project ID")
    environment_id: int = Field(title="Environment ID")
    name: str = Field(title="Name")
    slug: str = Field(title="Slug")
    branch: str | None = Field(default=None, title="Branch")
    cpu_limit: int | None = Field(default=None, title="CPU limit (millicores)")
    memory_limit: int | None = Field(default=None, title="Memory limit (MB)")
    replicas: int | None = Field(default=None, title="Replicas")
    exposed_port: int | None = Field(default=None, title="Exposed port")


class NewEnvironment(_Input):
    """An environment to create in a project."""

    project_id: int = Field(ge=1, title="Project ID", description="The project it belongs to.")
    name: _Name = Field(title="Name", examples=["staging"])
    branch: str = Field(default="main", title="Branch", description="The branch it deploys.")


class EnvironmentSettings(_Input):
    """Resources of an environment; those left empty keep their value."""

    cpu_limit: int | None = Field(default=None, ge=1, title="CPU limit", description="Millicores.")
    memory_limit: int | None = Field(
        default=None, ge=1, title="Memory limit", description="Megabytes."
    )
    replicas: int | None = Field(default=None, ge=1, le=100, title="Replicas")
    exposed_port: int | None = Field(default=None, ge=1, le=65535, title="Exposed port")


class AppliedSettings(BaseModel):
    """An environment's resources after the change."""

    cpu_limit: int | None = Field(default=None, title="CPU limit (millicores)")
    memory_limit: int | None = Field(default=None, title="Memory limit (MB)")
    replicas: int | None = Field(default=None, title="Replicas")
    exposed_port: int | None = Field(default=None, title="Exposed port")


class VariableProperties(BaseModel):
    """An environment variable, as Tempest shows it: never its value."""

    project_id: int = Field(title="Project ID")
    variable_id: int = Field(title="Variable ID")
    key: str = Field(title="Name")
    environment_ids: list[int] = Field(title="Environment IDs")
    include_in_preview: bool | None = Field(default=None, title="In preview environments")


class NewVariable(_Input):
    """An environment variable to create; its value is write-only."""

    project_id: int = Field(ge=1, title="Project ID", description="The project it belongs to.")
    key: _VariableKey = Field(title="Name", examples=["API_KEY"])
    value: SecretStr = Field(title="Value", description="Sent to Temps; never shown or logged.")
    environment_ids: list[int] = Field(
        default_factory=list, title="Environment IDs", description="The environments that get it."
    )
    include_in_preview: bool = Field(default=False, title="In preview environments")


class VariableChanges(_Input):
    """A new value for a variable, and optionally new environments."""

    value: SecretStr = Field(title="Value", description="Sent to Temps; never shown or logged.")
    environment_ids: list[int] | None = Field(
        None, title="Environment IDs", description="Empty: keep the current ones."
    )
    include_in_preview: bool | None = Field(default=None, title="In preview environments")


class DeploymentProperties(BaseModel):
    """A deployment, as Tempest shows it."""

    project_id: int = Field(title="Project ID")
    deployment_id: int = Field(title="Deployment ID")
    environment_id: int | None = Field(default=None, title="Environment ID")
    status: str = Field(title="Status")
    url: str | None = Field(default=None, title="URL")
    branch: str | None = Field(default=None, title="Branch")
    commit_hash: str | None = Field(default=None, title="Commit")
    commit_message: str | None = Field(default=None, title="Commit message")
    is_current: bool = Field(title="Current", description="Whether it serves its environment.")
    created_at: datetime | None = Field(default=None, title="Created")


class DeploymentState(BaseModel):
    """A deployment's state after an action."""

    deployment_id: int = Field(title="Deployment ID")
    status: str = Field(title="Status")
    is_current: bool = Field(title="Current")


# Temps objects as Tempest resources


def _project_resource(found: Project) -> tempest.Resource:
    return tempest.Resource(
        external_id=str(found.id),
        display_name=found.name,
        properties=ProjectProperties.model_validate(found, from_attributes=True),
    )


def _environment_resource(project_id: int, found: Environment) -> tempest.Resource:
    return tempest.Resource(
        external_id=f"{project_id}/{found.id}",
        display_name=f"{found.name} (project {project_id})",
        properties=EnvironmentProperties(
            project_id=project_id,
            environment_id=found.id,
            name=found.name,
            slug=found.slug,
            branch=found.branch,
            cpu_limit=found.cpu_limit,
            memory_limit=found.memory_limit,
            replicas=found.replicas,
            exposed_port=found.exposed_port,
        ),
    )


def _variable_resource(project_id: int, found: EnvVar) -> tempest.Resource:
    return tempest.Resource(
        external_id=f"{project_id}/{found.id}",
        display_name=f"{found.key} (project {project_id})",
        properties=VariableProperties(
            project_id=project_id,
            variable_id=found.id,
            key=found.key,
            environment_ids=found.environment_ids,
            include_in_preview=found.include_in_preview,
        ),
    )


def _deployment_resource(project_id: int, found: Deployment) -> tempest.Resource:
    return tempest.Resource(
        external_id=f"{project_id}/{found.id}",
        display_name=f"Deployment {found.id}" + (f" of {found.branch}" if found.branch else ""),
        properties=DeploymentProperties(
            project_id=project_id,
            deployment_id=found.id,
            environment_id=found.environment_id,
            status=found.status,
            url=found.url,
            branch=found.branch,
            commit_hash=found.commit_hash,
            commit_message=found.commit_message,
            is_current=found.is_current,
            created_at=found.created_at,
        ),
    )


# Projects

project = app.resource(
    "project",
    display_name="Temps project",
    description="A project in Temps: an app that Temps builds from Git and deploys.",
    properties=ProjectProperties,
    lifecycle_stage="deploy",
    instructions="Its external id is the project's id in Temps, like `12`.",
)


@project.create
async def create_project(
    ctx: tempest.Context, input: NewProject, services: Services
) -> tempest.Resource:
    """Create a project in Temps."""
    created = await services.temps.create_project(
        name=input.name,
        repo_owner=input.repo_owner,
        repo_name=input.repo_name,
        main_branch=input.main_branch,
        directory=input.directory,
        preset=input.preset,
    )
    ctx.logger.info("created Temps project %s (%s)", created.id, created.slug)
    return _project_resource(created)


@project.read
async def read_project(resource: tempest.Resource, services: Services) -> tempest.Resource:
    """Read a project as Temps has it now."""
    return _project_resource(await services.temps.get_project(_project_id(resource.external_id)))


@project.update
async def update_project(
    resource: tempest.Resource, input: ProjectChanges, services: Services
) -> tempest.Resource:
    """Change the fields given; an empty form changes nothing."""
    project_id = _project_id(resource.external_id)
    changes = input.model_dump(exclude_none=True)
    if not changes:
        return _project_resource(await services.temps.get_project(project_id))
    return _project_resource(await services.temps.update_project(project_id, changes))


@project.delete
async def delete_project(
    ctx: tempest.Context, resource: tempest.Resource, services: Services
) -> None:
    """Delete a project, with its environments, variables and deployments."""
    project_id = _project_id(resource.external_id)
    try:
        await services.temps.delete_project(project_id)
    except TempsNotFound:
        # Tasks may be delivered twice: a project already gone is deleted.
        ctx.logger.info("Temps project %s was already deleted", project_id)


@project.list
async def list_projects(cursor: str, services: Services) -> tempest.Page:
    """One Temps page of projects per page; the cursor is Temps' page number."""
    found = await services.temps.list_projects(_page_number(cursor))
    return tempest.Page(
        resources=[_project_resource(p) for p in found.items],
        next=str(found.next_page) if found.next_page else "",
    )


@project.action(
    "trigger_pipeline",
    display_name="Trigger pipeline",
    description="Build and deploy the project from Git.",
)
async def trigger_pipeline(
    ctx: tempest.Context, resource: tempest.Resource, input: PipelineInput, services: Services
) -> PipelineOutput:
    """Start a Temps pipeline for a branch, tag or commit."""
    project_id = _project_id(resource.external_id)
    run = await services.temps.trigger_pipeline(
        project_id,
        branch=input.branch,
        tag=input.tag,
        commit=input.commit,
        environment_id=input.environment_id,
    )
    ctx.logger.info("triggered a pipeline of project %s: %s", project_id, run.message)
    return PipelineOutput.model_validate(run, from_attributes=True)


@project.health_check(timeout=15)
async def temps_health(services: Services) -> tempest.Health:
    """Temps answers, and accepts the token."""
    try:
        found = await services.temps.list_projects(per_page=1)
    except TempsError as exc:
        return tempest.Health.disrupted(exc.message)
    return tempest.Health.healthy(f"Temps answers; {found.total} projects")


# Environments

environment = app.resource(
    "environment",
    display_name="Temps environment",
    description="An environment of a Temps project: production, preview, staging, ...",
    properties=EnvironmentProperties,
    lifecycle_stage="deploy",
    instructions=(
        "Its external id is `<project id>/<environment id>`, like `12/3`: environment 3 of "
        "project 12."
    ),
)


@environment.create
async def create_environment(
    ctx: tempest.Context, input: NewEnvironment, services: Services
) -> tempest.Resource:
    """Create an environment in a project."""
    created = await services.temps.create_environment(
        input.project_id, name=input.name, branch=input.branch
    )
    ctx.logger.info("created environment %s of project %s", created.id, input.project_id)
    return _environment_resource(input.project_id, created)


@environment.read
async def read_environment(resource: tempest.Resource, services: Services) -> tempest.Resource:
    """Read an environment as Temps has it now."""
    project_id, environment_id = _child_id(resource.external_id, "environment", "12/3")
    found = await services.temps.get_environment(project_id, environment_id)
    return _environment_resource(project_id, found)


@environment.delete
async def delete_environment(
    ctx: tempest.Context, resource: tempest.Resource, services: Services
) -> None:
    """Delete an environment."""
    project_id, environment_id = _child_id(resource.external_id, "environment", "12/3")
    try:
        await services.temps.delete_environment(project_id, environment_id)
    except TempsNotFound:
        ctx.logger.info("environment %s was already deleted", resource.external_id)


@environment.list
async def list_environments(cursor: str, services: Services) -> tempest.Page:
    """Every project's environments, project after project."""
    temps = services.temps
    return await _list_inside_projects(
        cursor, temps, temps.list_environments, _environment_resource
    )


@environment.action(
    "update_settings",
    display_name="Update settings",
    description="Change the environment's CPU, memory, replicas or exposed port.",
)
async def update_environment_settings(
    resource: tempest.Resource, input: EnvironmentSettings, services: Services
) -> AppliedSettings:
    """Change the settings given; the others keep their value."""
    project_id, environment_id = _child_id(resource.external_id, "environment", "12/3")
    changes = input.model_dump(exclude_none=True)
    if changes:
        found = await services.temps.update_environment_settings(
            project_id, environment_id, changes
        )
    else:
        found = await services.temps.get_environment(project_id, environment_id)
    return AppliedSettings.model_validate(found, from_attributes=True)


# Environment variables

variable = app.resource(
    "environment_variable",
    display_name="Temps environment variable",
    description="An environment variable of a Temps project; its value is write-only.",
    properties=VariableProperties,
    lifecycle_stage="deploy",
    instructions=(
        "Its external id is `<project id>/<variable id>`, like `12/45`. The value is sent "
        "to Temps and never shown: to change it, update the variable with a new one."
    ),
)


@variable.create
async def create_variable(
    ctx: tempest.Context, input: NewVariable, services: Services
) -> tempest.Resource:
    """Create a variable; its value goes to Temps only."""
    created = await services.temps.create_env_var(
        input.project_id,
        key=input.key,
        value=input.value,
        environment_ids=input.environment_ids,
        include_in_preview=input.include_in_preview,
    )
    ctx.logger.info("created variable %s of project %s", created.key, input.project_id)
    return _variable_resource(input.project_id, created)


@variable.read
async def read_variable(resource: tempest.Resource, services: Services) -> tempest.Resource:
    """Read a variable (without its value)."""
    project_id, variable_id = _child_id(resource.external_id, "environment variable", "12/45")
    found = await services.temps.get_env_var(project_id, variable_id)
    return _variable_resource(project_id, found)


@variable.update
async def update_variable(
    ctx: tempest.Context, resource: tempest.Resource, input: VariableChanges, services: Services
) -> tempest.Resource:
    """Give a variable a new value, and new environments if any are given."""
    project_id, variable_id = _child_id(resource.external_id, "environment variable", "12/45")
    current = await services.temps.get_env_var(project_id, variable_id)
    updated = await services.temps.update_env_var(
        project_id,
        variable_id,
        key=current.key,
        value=input.value,
        environment_ids=(
            input.environment_ids if input.environment_ids is not None else current.environment_ids
        ),
        include_in_preview=(
            input.include_in_preview
            if input.include_in_preview is not None
            else bool(current.include_in_preview)
        ),
    )
    ctx.logger.info("updated variable %s of project %s", updated.key, project_id)
    return _variable_resource(project_id, updated)


@variable.delete
async def delete_variable(
    ctx: tempest.Context, resource: tempest.Resource, services: Services
) -> None:
    """Delete a variable."""
    project_id, variable_id = _child_id(resource.external_id, "environment variable", "12/45")
    try:
        await services.temps.delete_env_var(project_id, variable_id)
    except TempsNotFound:
        ctx.logger.info("variable %s was already deleted", resource.external_id)


@variable.list
async def list_variables(cursor: str, services: Services) -> tempest.Page:
    """Every project's variables, project after project (never their values)."""
    temps = services.temps
    return await _list_inside_projects(cursor, temps, temps.list_env_vars, _variable_resource)


# Deployments

deployment = app.resource(
    "deployment",
    display_name="Temps deployment",
    description="A deployment of a Temps project; start one with the project's pipeline.",
    properties=DeploymentProperties,
    lifecycle_stage="release",
    instructions=(
        "Its external id is `<project id>/<deployment id>`, like `12/678`. Deployments are "
        "started by the project's *Trigger pipeline* action."
    ),
)


@deployment.read
async def read_deployment(resource: tempest.Resource, services: Services) -> tempest.Resource:
    """Read a deployment as Temps has it now."""
    project_id, deployment_id = _child_id(resource.external_id, "deployment", "12/678")
    found = await services.temps.get_deployment(project_id, deployment_id)
    return _deployment_resource(project_id, found)


@deployment.list
async def list_deployments(cursor: str, services: Services) -> tempest.Page:
    """Every project's deployments, project after project, newest first as Temps lists them."""
    temps = services.temps
    return await _list_inside_projects(cursor, temps, temps.list_deployments, _deployment_resource)


async def _act(
    ctx: tempest.Context, resource: tempest.Resource, temps: TempsClient, action: DeploymentAction
) -> DeploymentState:
    project_id, deployment_id = _child_id(resource.external_id, "deployment", "12/678")
    await temps.act_on_deployment(project_id, deployment_id, action)
    ctx.logger.info("%s: deployment %s of project %s", action, deployment_id, project_id)
    # Read it back: what the action answers differs between them (and Temps versions).
    found = await temps.get_deployment(project_id, deployment_id)
    return DeploymentState(deployment_id=found.id, status=found.status, is_current=found.is_current)


@deployment.action(
    "rollback",
    display_name="Roll back",
    description="Serve this earlier deployment again in its environment.",
)
async def rollback(
    ctx: tempest.Context, resource: tempest.Resource, services: Services
) -> DeploymentState:
    """Make this deployment the current one of its environment again."""
    return await _act(ctx, resource, services.temps, "rollback")


@deployment.action("cancel", display_name="Cancel", description="Stop a running deployment.")
async def cancel(
    ctx: tempest.Context, resource: tempest.Resource, services: Services
) -> DeploymentState:
    """Cancel a pending or running deployment."""
    return await _act(ctx, resource, services.temps, "cancel")


@deployment.action("pause", display_name="Pause", description="Pause a running deployment.")
async def pause(
    ctx: tempest.Context, resource: tempest.Resource, services: Services
) -> DeploymentState:
    """Pause a running deployment."""
    return await _act(ctx, resource, services.temps, "pause")


@deployment.action("resume", display_name="Resume", description="Resume a paused deployment.")
async def resume(
    ctx: tempest.Context, resource: tempest.Resource, services: Services
) -> DeploymentState:
    """Resume a paused deployment."""
    return await _act(ctx, resource, services.temps, "resume")


if __name__ == "__main__":
    app.run()
