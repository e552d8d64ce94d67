"""A small typed client for the parts of Temps' REST API that the app uses.

Temps answers JSON. Its errors are RFC 7807 problem details
(`{"type", "title", "status", "detail"}`); this client raises them as exceptions that
are also the SDK's task errors, so a handler can let them through and the report reads
well: 404 is a `tempest.ResourceNotFoundError`, 400 and 422 a `tempest.InvalidInputError`,
409 a `tempest.ResourceConflictError`. Lists are pages of `?page=&per_page=`; the seed documents
`{"items": [...], "total": N}`, and this client also reads the shape Temps' own server
sends (`{"projects": [...], "total", "page", "per_page"}`) and plain arrays.

```
tempest.TaskError
└── TempsError               (Temps refused or failed; the message says what it answered)
    ├── TempsNotFound        (also tempest.ResourceNotFoundError: 404)
    ├── TempsInvalid         (also tempest.InvalidInputError: 400, 422)
    ├── TempsConflict        (also tempest.ResourceConflictError: 409)
    └── TempsUnreachable     (no answer: connection refused, timeout, ...)
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeAlias, TypeGuard, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

import tempest_sdk as tempest

__all__ = [
    "Deployment",
    "DeploymentAction",
    "EnvVar",
    "Environment",
    "PipelineRun",
    "Problem",
    "Project",
    "TempsClient",
    "TempsConflict",
    "TempsError",
    "TempsInvalid",
    "TempsNotFound",
    "TempsPage",
    "TempsUnreachable",
]

DeploymentAction = Literal["rollback", "cancel", "pause", "resume"]


class _Answer(BaseModel):
    # Temps' answers carry many more fields than the app uses: they are ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Problem(_Answer):
    """An RFC 7807 problem detail, as Temps sends with every error."""

    type: str = "about:blank"
    title: str = ""
    status: int | None = None
    detail: str = ""
    instance: str | None = None


class Project(_Answer):
    """A Temps project."""

    id: int
    name: str
    slug: str = ""
    repo_owner: str | None = None
    repo_name: str | None = None
    main_branch: str = "main"
    directory: str = "."
    preset: str | None = None
    created_at: datetime | None = None


class Environment(_Answer):
    """An environment of a Temps project (production, preview, staging, ...)."""

    id: int
    project_id: int
    name: str
    slug: str = ""
    branch: str | None = None
    cpu_limit: int | None = None
    memory_limit: int | None = None
    replicas: int | None = None
    exposed_port: int | None = None


class EnvVar(_Answer):
    """An environment variable of a project, without its value.

    Temps may send the value along; it is not read into this model, so it cannot
    travel further than the response that carried it.
    """

    id: int
    key: str
    environment_ids: list[int] = []
    include_in_preview: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _environment_ids(cls, data: object) -> object:
        # Temps' own server lists `environments: [{id, name, ...}]` instead.
        if _is_json_object(data) and "environment_ids" not in data:
            environments = data.get("environments")
            if isinstance(environments, list):
                ids = [e["id"] for e in environments if isinstance(e, dict) and "id" in e]
                return {**data, "environment_ids": ids}
        return data


class Deployment(_Answer):
    """A deployment of a project to one of its environments."""

    id: int
    project_id: int
    environment_id: int | None = None
    status: str
    url: str | None = None
    branch: str | None = None
    commit_hash: str | None = None
    commit_message: str | None = None
    is_current: bool = False
    created_at: datetime | None = None


class PipelineRun(_Answer):
    """What Temps answers when a pipeline is triggered."""

    message: str = ""
    project_id: int
    environment_id: int
    branch: str | None = None
    tag: str | None = None
    commit: str | None = None


M = TypeVar("M", bound=BaseModel)
#: A JSON document as decoded.
_JSON: TypeAlias = dict[str, "_JSON"] | list["_JSON"] | str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class TempsPage(Generic[M]):
    """One page of a Temps list: its items, the total, and the next page number (or None)."""

    items: list[M]
    total: int
    next_page: int | None


class TempsError(tempest.TaskError):
    """Temps refused or failed a request; the message says what it answered, and to what.

    Attributes:
        status: The HTTP status (None when Temps did not answer).
        problem: The problem details Temps sent, if any.
    """

    def __init__(
        self, message: str, *, status: int | None = None, problem: Problem | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem


class TempsNotFound(TempsError, tempest.ResourceNotFoundError):
    """Temps answered 404: the project, environment, variable or deployment does not exist."""


class TempsInvalid(TempsError, tempest.InvalidInputError):
    """Temps answered 400 or 422: it cannot use what was sent."""


class TempsConflict(TempsError, tempest.ResourceConflictError):
    """Temps answered 409: the change conflicts with what exists (a taken name, a finished
    deployment, ...)."""


class TempsUnreachable(TempsError):
    """Temps did not answer: connection refused, DNS failure, timeout, ..."""


_BY_STATUS: dict[int, type[TempsError]] = {
    400: TempsInvalid,
    404: TempsNotFound,
    409: TempsConflict,
    422: TempsInvalid,
}


class TempsClient:
    """The Temps REST calls the app makes, typed, over one shared `httpx.AsyncClient`.

    The client's `base_url` is the Temps API (`https://your-temps-instance/api`) and it
    carries the `Authorization: Bearer` header; whoever created it closes it.

    Args:
        http: The HTTP client (its base URL, token header and timeouts set).
        page_size: Items per page asked of Temps (1 to 100; Temps' default is 20).
    """

    def __init__(self, http: httpx.AsyncClient, *, page_size: int = 20) -> None:
        if not 1 <= page_size <= 100:
            raise ValueError(
                f"page_size must be between 1 and 100 (Temps' limits), not {page_size}"
            )
        self.http = http
        self.page_size = page_size

    # Projects

    async def list_projects(
        self, page: int = 1, *, per_page: int | None = None
    ) -> TempsPage[Project]:
        """One page of projects."""
        return await self._page(Project, "/projects", page, per_page)

    async def get_project(self, project_id: int) -> Project:
        """A project by id."""
        return _parse(Project, await self._call("GET", f"/projects/{project_id}"))

    async def create_project(
        self,
        *,
        name: str,
        main_branch: str,
        directory: str,
        preset: str,
        repo_owner: str | None = None,
        repo_name: str | None = None,
    ) -> Project:
        """Create a project."""
        body = {
            "name": name,
            "main_branch": main_branch,
            "directory": directory,
            "preset": preset,
            "repo_owner": repo_owner,
            "repo_name": repo_name,
        }
        return _parse(Project, await self._call("POST", "/projects", json=_without_none(body)))

    async def update_project(self, project_id: int, changes: Mapping[str, str]) -> Project:
        """Change some of a project's fields (`name`, `main_branch`, `directory`, ...)."""
        answer = await self._call("PUT", f"/projects/{project_id}", json=dict(changes))
        return _parse(Project, answer)

    async def delete_project(self, project_id: int) -> None:
        """Delete a project with its environments, variables and deployments."""
        await self._call("DELETE", f"/projects/{project_id}")

    async def trigger_pipeline(
        self,
        project_id: int,
        *,
        branch: str | None = None,
        tag: str | None = None,
        commit: str | None = None,
        environment_id: int | None = None,
    ) -> PipelineRun:
        """Start a deployment of a project from Git."""
        body = {"branch": branch, "tag": tag, "commit": commit, "environment_id": environment_id}
        answer = await self._call(
            "POST", f"/projects/{project_id}/trigger-pipeline", json=_without_none(body)
        )
        return _parse(PipelineRun, answer)

    # Environments

    async def list_environments(self, project_id: int, page: int = 1) -> TempsPage[Environment]:
        """One page of a project's environments."""
        return await self._page(Environment, f"/projects/{project_id}/environments", page)

    async def get_environment(self, project_id: int, environment_id: int) -> Environment:
        """An environment of a project."""
        answer = await self._call("GET", f"/projects/{project_id}/environments/{environment_id}")
        return _parse(Environment, answer)

    async def create_environment(self, project_id: int, *, name: str, branch: str) -> Environment:
        """Create an environment in a project."""
        answer = await self._call(
            "POST", f"/projects/{project_id}/environments", json={"name": name, "branch": branch}
        )
        return _parse(Environment, answer)

    async def update_environment_settings(
        self, project_id: int, environment_id: int, settings: Mapping[str, int]
    ) -> Environment:
        """Change an environment's `cpu_limit`, `memory_limit`, `replicas` or `exposed_port`."""
        path = f"/projects/{project_id}/environments/{environment_id}/settings"
        return _parse(Environment, await self._call("PUT", path, json=dict(settings)))

    async def delete_environment(self, project_id: int, environment_id: int) -> None:
        """Delete an environment."""
        await self._call("DELETE", f"/projects/{project_id}/environments/{environment_id}")

    # Environment variables

    async def list_env_vars(self, project_id: int, page: int = 1) -> TempsPage[EnvVar]:
        """One page of a project's environment variables (never their values)."""
        return await self._page(EnvVar, f"/projects/{project_id}/env-vars", page)

    async def get_env_var(self, project_id: int, variable_id: int) -> EnvVar:
        """A variable by id; Temps has no such call, so this looks through the list."""
        page: int | None = 1
        while page is not None:
            found = await self.list_env_vars(project_id, page)
            for variable in found.items:
                if variable.id == variable_id:
                    return variable
            page = found.next_page
        raise TempsNotFound(
            f"project {project_id} has no environment variable {variable_id}", status=404
        )

    async def create_env_var(
        self,
        project_id: int,
        *,
        key: str,
        value: SecretStr,
        environment_ids: Sequence[int],
        include_in_preview: bool,
    ) -> EnvVar:
        """Create a variable; its value is revealed only into the request body."""
        body = _env_var_body(key, value, environment_ids, include_in_preview)
        path = f"/projects/{project_id}/env-vars"
        return _parse(EnvVar, await self._call("POST", path, json=body))

    async def update_env_var(
        self,
        project_id: int,
        variable_id: int,
        *,
        key: str,
        value: SecretStr,
        environment_ids: Sequence[int],
        include_in_preview: bool,
    ) -> EnvVar:
        """Replace a variable's value and environments."""
        body = _env_var_body(key, value, environment_ids, include_in_preview)
        path = f"/projects/{project_id}/env-vars/{variable_id}"
        return _parse(EnvVar, await self._call("PUT", path, json=body))

    async def delete_env_var(self, project_id: int, variable_id: int) -> None:
        """Delete a variable."""
        await self._call("DELETE", f"/projects/{project_id}/env-vars/{variable_id}")

    # Deployments

    async def list_deployments(self, project_id: int, page: int = 1) -> TempsPage[Deployment]:
        """One page of a project's deployments."""
        return await self._page(Deployment, f"/projects/{project_id}/deployments", page)

    async def get_deployment(self, project_id: int, deployment_id: int) -> Deployment:
        """A deployment of a project."""
        answer = await self._call("GET", f"/projects/{project_id}/deployments/{deployment_id}")
        return _parse(Deployment, answer)

    async def act_on_deployment(
        self, project_id: int, deployment_id: int, action: DeploymentAction
    ) -> None:
        """Roll back to, cancel, pause or resume a deployment."""
        await self._call("POST", f"/projects/{project_id}/deployments/{deployment_id}/{action}")

    # Plumbing

    async def _page(
        self, model: type[M], path: str, page: int, per_page: int | None = None
    ) -> TempsPage[M]:
        size = per_page or self.page_size
        answer = await self._call("GET", path, params={"page": page, "per_page": size})
        if isinstance(answer, list):
            # Not paginated: the whole list at once.
            return TempsPage([_parse(model, item) for item in answer], len(answer), None)
        if not isinstance(answer, dict):
            raise TempsError(f"Temps answered GET {path} with {type(answer).__name__}, not a page")
        items = answer.get("items")
        if items is None:  # Temps' own server names the list after what it holds.
            items = next((v for v in answer.values() if isinstance(v, list)), list[_JSON]())
        if not isinstance(items, list):
            raise TempsError(
                f"Temps answered GET {path} with items that are a {type(items).__name__}, "
                "not a list"
            )
        total = answer.get("total")
        total = total if isinstance(total, int) else len(items)
        more = bool(items) and page * size < total
        return TempsPage([_parse(model, item) for item in items], total, page + 1 if more else None)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, int] | None = None,
        json: object = None,
    ) -> _JSON:
        try:
            response = await self.http.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            # The URL only: never the request's headers (the token) or body (values).
            raise TempsUnreachable(
                f"cannot reach Temps at {self.http.base_url}: {type(exc).__name__} on "
                f"{method} {path}" + (f" ({exc})" if str(exc) else "")
            ) from None
        if response.is_success:
            if not response.content:
                return None
            try:
                decoded: _JSON = response.json()
            except ValueError:
                raise TempsError(f"Temps answered {method} {path} with invalid JSON") from None
            return decoded
        raise _error(method, path, response)


def _is_json_object(value: object) -> TypeGuard[dict[str, _JSON]]:
    """Whether `value`, a JSON document as decoded, is an object (a dict keyed by text)."""
    return isinstance(value, dict)


def _error(method: str, path: str, response: httpx.Response) -> TempsError:
    """The exception for an error answer, read from its problem details when it has them."""
    problem = None
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        try:
            problem = Problem.model_validate(data)
        except ValidationError:
            problem = None
    status = response.status_code
    title = (problem.title if problem else "") or response.reason_phrase
    what = (problem.detail if problem else "") or title
    answered = f"Temps answered {status} {title} to {method} {path}"
    if status in (401, 403):
        message = f"Temps refused the API token: {what} ({answered}); check TEMPS_TOKEN"
    else:
        message = f"{what} ({answered})"
    return _BY_STATUS.get(status, TempsError)(message, status=status, problem=problem)


def _parse(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise TempsError(f"unexpected answer from Temps for a {model.__name__}: {fields}") from None


def _without_none(body: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in body.items() if value is not None}


def _env_var_body(
    key: str, value: SecretStr, environment_ids: Sequence[int], include_in_preview: bool
) -> dict[str, Any]:
    """The body of a variable's create or update: the one place its value is revealed."""
    return {
        "key": key,
        "value": value.get_secret_value(),
        "environment_ids": list(environment_ids),
        "include_in_preview": include_in_preview,
    }
