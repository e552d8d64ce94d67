"""A fake Temps: the REST API that the seed documents, in memory, for the example's tests.

It is an ASGI app (`FakeTemps.asgi`, routes under `/api`), used in process through
`httpx.ASGITransport` or served on loopback by a real uvicorn (`FakeTemps.serve()`).
Like Temps it wants `Authorization: Bearer <token>`, answers every error with RFC 7807
problem details (`application/problem+json`), pages lists with `?page=&per_page=`
(20 by default, at most 100) and refuses conflicting changes with 409. It starts with
data of its own (`SEED`), which tests check the app never changes unasked.

Run it alone to try the app without a Temps:

    python examples/temps/tests/fake_temps.py --port 8080 --token dev-token
    # then TEMPS_URL=http://127.0.0.1:8080/api TEMPS_TOKEN=dev-token
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["FAKE_TOKEN", "SEED", "FakeTemps", "Recorded"]

FAKE_TOKEN = "fake-temps-token-0123456789"
_CREATED = "2026-01-15T12:00:00Z"

Row = dict[str, Any]
Tables = dict[str, dict[int, Row]]


def _seed() -> Tables:
    projects = [
        (1, "storefront", "acme", "storefront", "nextjs"),
        (2, "billing-api", "acme", "billing", "dockerfile"),
        (3, "docs-site", "acme", "docs", "static"),
        (4, "analytics-worker", "acme", "analytics", "nixpacks"),
        (5, "status-page", "acme", "status", "nixpacks"),
    ]
    environments = [
        (1, 1, "production", "main", 1000, 512, 2, 3000),
        (2, 1, "preview", "develop", 500, 256, 1, 3000),
        (3, 2, "production", "main", 2000, 1024, 3, 8080),
        (4, 3, "production", "main", None, None, 1, 80),
        (5, 5, "production", "main", None, None, 1, 8080),
    ]
    variables = [
        (1, 1, "DATABASE_URL", "postgres://store:seeded-db-password@db/store", [1], False),
        (2, 1, "SENTRY_DSN", "https://seeded-sentry-key@sentry.example/1", [1, 2], True),
        (3, 2, "STRIPE_KEY", "sk_live_seeded_stripe_key", [3], False),
    ]
    deployments = [
        (1, 1, 1, "completed", False, "main", "a1b2c3d", "First release"),
        (2, 1, 1, "completed", True, "main", "b2c3d4e", "Fix checkout"),
        (3, 1, 2, "running", False, "develop", "c3d4e5f", "New header"),
        (4, 2, 3, "paused", False, "main", "d4e5f6a", "Invoices v2"),
        (5, 3, 4, "failed", False, "main", "e5f6a7b", "Broken link checker"),
    ]
    return {
        "projects": {
            i: {
                "id": i,
                "name": name,
                "slug": name,
                "repo_owner": owner,
                "repo_name": repo,
                "main_branch": "main",
                "directory": ".",
                "preset": preset,
                "created_at": _CREATED,
                "updated_at": _CREATED,
            }
            for i, name, owner, repo, preset in projects
        },
        "environments": {
            i: {
                "id": i,
                "project_id": p,
                "name": name,
                "slug": name,
                "branch": branch,
                "cpu_limit": cpu,
                "memory_limit": memory,
                "replicas": replicas,
                "exposed_port": port,
                "created_at": _CREATED,
            }
            for i, p, name, branch, cpu, memory, replicas, port in environments
        },
        "env_vars": {
            i: {
                "id": i,
                "project_id": p,
                "key": key,
                "value": value,
                "environment_ids": envs,
                "include_in_preview": preview,
                "created_at": _CREATED,
                "updated_at": _CREATED,
            }
            for i, p, key, value, envs, preview in variables
        },
        "deployments": {
            i: {
                "id": i,
                "project_id": p,
                "environment_id": e,
                "status": status,
                "is_current": current,
                "url": f"https://{p}-{e}-{i}.temps.example",
                "branch": branch,
                "commit_hash": commit,
                "commit_message": message,
                "created_at": _CREATED,
            }
            for i, p, e, status, current, branch, commit, message in deployments
        },
    }


SEED: Tables = _seed()
"""The data every fake starts with (each gets its own copy)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """A request the fake received."""

    method: str
    path: str
    query: str
    body: bytes
    authorization: str


class _Problem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail

    def response(self, instance: str) -> Response:
        body = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        return Response(
            json.dumps(body), status_code=self.status, media_type="application/problem+json"
        )


def _not_found(detail: str) -> _Problem:
    return _Problem(404, "Not Found", detail)


def _conflict(detail: str) -> _Problem:
    return _Problem(409, "Conflict", detail)


# Request bodies, as strict as a typed server: an unknown field is a client bug.


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ProjectIn(_Body):
    name: str = Field(min_length=1, max_length=100)
    repo_owner: str | None = None
    repo_name: str | None = None
    main_branch: str = "main"
    directory: str = "."
    preset: str | None = None


class _ProjectChanges(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    repo_owner: str | None = None
    repo_name: str | None = None
    main_branch: str | None = None
    directory: str | None = None
    preset: str | None = None


class _PipelineIn(_Body):
    branch: str | None = None
    tag: str | None = None
    commit: str | None = None
    environment_id: int | None = None


class _EnvironmentIn(_Body):
    name: str = Field(min_length=1, max_length=100)
    branch: str = Field(min_length=1)


class _SettingsIn(_Body):
    cpu_limit: int | None = Field(default=None, ge=1)
    memory_limit: int | None = Field(default=None, ge=1)
    replicas: int | None = Field(default=None, ge=1, le=100)
    exposed_port: int | None = Field(default=None, ge=1, le=65535)


class _EnvVarIn(_Body):
    key: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=255)
    value: str
    environment_ids: list[int]
    include_in_preview: bool = False


B = TypeVar("B", bound=_Body)


@dataclass(frozen=True, slots=True)
class _Call:
    params: Mapping[str, Any]
    query: Mapping[str, str]
    body: bytes

    def read(self, model: type[B]) -> B:
        try:
            data = json.loads(self.body or b"null")
        except ValueError:
            raise _Problem(400, "Bad Request", "the body is not valid JSON") from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            raise _Problem(422, "Unprocessable Entity", detail) from None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


PageShape = Literal["seed", "server", "array"]


class FakeTemps:
    """An in-memory Temps API with its own data, for tests.

    Args:
        token: The API token it accepts.
        page_shape: How lists answer: `"seed"` (`{"items", "total"}`, as the seed
            documents), `"server"` (`{"<things>": [...], "total", "page", "per_page"}`,
            as Temps' own server does) or `"array"` (a plain list, not paginated).
    """

    def __init__(self, token: str = FAKE_TOKEN, *, page_shape: PageShape = "seed") -> None:
        self.token = token
        self.page_shape = page_shape
        self.tables: Tables = copy.deepcopy(SEED)
        self.requests: list[Recorded] = []
        self._next_id = {name: max(rows) + 1 for name, rows in self.tables.items()}
        # The server's loop thread changes the tables while tests read them.
        self._lock = threading.Lock()
        self.asgi = Starlette(routes=self._routes())

    def snapshot(self) -> Tables:
        """A deep copy of every table, taken atomically."""
        with self._lock:
            return copy.deepcopy(self.tables)

    def seeded_rows_unchanged(self) -> bool:
        """Whether every row the fake started with is still there, exactly as it was."""
        now = self.snapshot()
        return all(
            now[name].get(i) == row for name, rows in SEED.items() for i, row in rows.items()
        )

    def created_rows(self) -> dict[str, list[int]]:
        """The ids of rows that are not seed data, per table."""
        now = self.snapshot()
        return {name: sorted(set(rows) - set(SEED[name])) for name, rows in now.items()}

    @contextlib.contextmanager
    def serve(self) -> Generator[str]:
        """Serve on a free loopback port with a real uvicorn in a thread; yield the API URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            self.asgi,
            lifespan="off",
            log_config=None,  # the test process's logging stays as pytest set it
            access_log=False,
            ws="none",
            http="h11",
            loop="asyncio",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-temps", daemon=True
        )
        thread.start()
        try:
            deadline = time.monotonic() + 10.0
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the fake Temps did not start serving within 10 s")
                time.sleep(0.005)
            host, port = sock.getsockname()
            yield f"http://{host}:{port}/api"
        finally:
            server.should_exit = True
            thread.join(timeout=10.0)
            sock.close()

    # Routing

    def _routes(self) -> list[Route]:
        p = "/api/projects"
        one = p + "/{project_id:int}"
        env = one + "/environments/{environment_id:int}"
        var = one + "/env-vars/{variable_id:int}"
        dep = one + "/deployments/{deployment_id:int}"
        routes: list[tuple[str, str, Callable[[_Call], tuple[int, object]]]] = [
            ("GET", p, self._list_projects),
            ("POST", p, self._create_project),
            ("GET", one, self._get_project),
            ("PUT", one, self._update_project),
            ("DELETE", one, self._delete_project),
            ("POST", one + "/trigger-pipeline", self._trigger_pipeline),
            ("GET", one + "/environments", self._list_environments),
            ("POST", one + "/environments", self._create_environment),
            ("GET", env, self._get_environment),
            ("DELETE", env, self._delete_environment),
            ("PUT", env + "/settings", self._update_settings),
            ("GET", one + "/env-vars", self._list_env_vars),
            ("POST", one + "/env-vars", self._create_env_var),
            ("PUT", var, self._update_env_var),
            ("DELETE", var, self._delete_env_var),
            ("GET", one + "/env-vars/{key:str}/value", self._env_var_value),
            ("GET", one + "/deployments", self._list_deployments),
            ("GET", dep, self._get_deployment),
            ("POST", dep + "/{action:str}", self._act_on_deployment),
        ]
        by_path: dict[str, dict[str, Callable[[_Call], tuple[int, object]]]] = {}
        for method, path, handler in routes:
            by_path.setdefault(path, {})[method] = handler
        return [
            Route(path, self._endpoint(handlers), methods=list(handlers))
            for path, handlers in by_path.items()
        ]

    def _endpoint(
        self, handlers: Mapping[str, Callable[[_Call], tuple[int, object]]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            authorization = request.headers.get("authorization", "")
            with self._lock:
                self.requests.append(
                    Recorded(
                        request.method, request.url.path, request.url.query, body, authorization
                    )
                )
            try:
                if authorization != f"Bearer {self.token}":
                    raise _Problem(401, "Unauthorized", "Missing or invalid API token")
                call = _Call(request.path_params, request.query_params, body)
                with self._lock:
                    status, answer = handlers[request.method](call)
            except _Problem as problem:
                return problem.response(request.url.path)
            if answer is None:
                return Response(status_code=status)
            return JSONResponse(answer, status_code=status)

        return endpoint

    # Helpers (called with the lock held)

    def _new_id(self, table: str) -> int:
        self._next_id[table] += 1
        return self._next_id[table] - 1

    def _project(self, call: _Call) -> Row:
        project_id = call.params["project_id"]
        found = self.tables["projects"].get(project_id)
        if found is None:
            raise _not_found(f"Project {project_id} not found")
        return found

    def _child(self, call: _Call, table: str, key: str, what: str) -> Row:
        project = self._project(call)
        child_id = call.params[key]
        found = self.tables[table].get(child_id)
        if found is None or found["project_id"] != project["id"]:
            raise _not_found(f"{what} {child_id} not found in project {project['id']}")
        return found

    def _page(self, call: _Call, rows: list[Row], name: str) -> tuple[int, object]:
        if self.page_shape == "array":
            return 200, rows
        try:
            page = int(call.query.get("page", "1"))
            per_page = int(call.query.get("per_page", "20"))
        except ValueError:
            raise _Problem(400, "Bad Request", "page and per_page must be integers") from None
        if page < 1 or not 1 <= per_page <= 100:
            raise _Problem(400, "Bad Request", "page must be >= 1 and per_page within 1..100")
        items = rows[(page - 1) * per_page : page * per_page]
        if self.page_shape == "server":
            return 200, {name: items, "total": len(rows), "page": page, "per_page": per_page}
        return 200, {"items": items, "total": len(rows)}

    def _check_slug_free(self, slug: str, project_id: int | None = None) -> None:
        if not slug:
            raise _Problem(422, "Unprocessable Entity", "name: must contain a letter or digit")
        for other in self.tables["projects"].values():
            if other["slug"] == slug and other["id"] != project_id:
                raise _conflict(f"A project with slug '{slug}' already exists")

    def _check_environments(self, project_id: int, ids: list[int]) -> None:
        for environment_id in ids:
            found = self.tables["environments"].get(environment_id)
            if found is None or found["project_id"] != project_id:
                raise _Problem(
                    422,
                    "Unprocessable Entity",
                    f"environment_ids: {environment_id} is not an environment of project "
                    f"{project_id}",
                )

    # Projects

    def _list_projects(self, call: _Call) -> tuple[int, object]:
        rows = sorted(self.tables["projects"].values(), key=lambda r: r["id"])
        return self._page(call, rows, "projects")

    def _get_project(self, call: _Call) -> tuple[int, object]:
        return 200, self._project(call)

    def _create_project(self, call: _Call) -> tuple[int, object]:
        body = call.read(_ProjectIn)
        slug = _slug(body.name)
        self._check_slug_free(slug)
        project_id = self._new_id("projects")
        row = {
            "id": project_id,
            "slug": slug,
            **body.model_dump(),
            "created_at": _CREATED,
            "updated_at": _CREATED,
        }
        self.tables["projects"][project_id] = row
        # Temps gives every new project a production environment.
        environment_id = self._new_id("environments")
        self.tables["environments"][environment_id] = {
            "id": environment_id,
            "project_id": project_id,
            "name": "production",
            "slug": "production",
            "branch": body.main_branch,
            "cpu_limit": None,
            "memory_limit": None,
            "replicas": 1,
            "exposed_port": 3000,
            "created_at": _CREATED,
        }
        return 201, row

    def _update_project(self, call: _Call) -> tuple[int, object]:
        row = self._project(call)
        changes = call.read(_ProjectChanges).model_dump(exclude_none=True)
        if "name" in changes:
            changes["slug"] = _slug(changes["name"])
            self._check_slug_free(changes["slug"], row["id"])
        row.update(changes)
        return 200, row

    def _delete_project(self, call: _Call) -> tuple[int, object]:
        row = self._project(call)
        del self.tables["projects"][row["id"]]
        for table in ("environments", "env_vars", "deployments"):
            rows = self.tables[table]
            for child_id in [i for i, r in rows.items() if r["project_id"] == row["id"]]:
                del rows[child_id]
        return 204, None

    def _trigger_pipeline(self, call: _Call) -> tuple[int, object]:
        project = self._project(call)
        body = call.read(_PipelineIn)
        environments = [
            e for e in self.tables["environments"].values() if e["project_id"] == project["id"]
        ]
        if body.environment_id is not None:
            chosen = next((e for e in environments if e["id"] == body.environment_id), None)
            if chosen is None:
                raise _not_found(
                    f"Environment {body.environment_id} not found in project {project['id']}"
                )
        else:
            previews = [e for e in environments if e["name"] == "preview"]
            if not (previews or environments):
                raise _conflict(f"Project {project['id']} has no environment to deploy to")
            chosen = (previews or environments)[0]
        branch = body.branch or (None if body.tag or body.commit else project["main_branch"])
        deployment_id = self._new_id("deployments")
        self.tables["deployments"][deployment_id] = {
            "id": deployment_id,
            "project_id": project["id"],
            "environment_id": chosen["id"],
            "status": "pending",
            "is_current": False,
            "url": f"https://{project['id']}-{chosen['id']}-{deployment_id}.temps.example",
            "branch": branch,
            "commit_hash": body.commit,
            "commit_message": None,
            "created_at": _CREATED,
        }
        return 200, {
            "message": f"Pipeline triggered: deployment {deployment_id}",
            "project_id": project["id"],
            "environment_id": chosen["id"],
            "branch": branch,
            "tag": body.tag,
            "commit": body.commit,
        }

    # Environments

    def _list_environments(self, call: _Call) -> tuple[int, object]:
        project = self._project(call)
        rows = [e for e in self.tables["environments"].values() if e["project_id"] == project["id"]]
        return self._page(call, sorted(rows, key=lambda r: r["id"]), "environments")

    def _get_environment(self, call: _Call) -> tuple[int, object]:
        return 200, self._child(call, "environments", "environment_id", "Environment")

    def _create_environment(self, call: _Call) -> tuple[int, object]:
        project = self._project(call)
        body = call.read(_EnvironmentIn)
        slug = _slug(body.name)
        for other in self.tables["environments"].values():
            if other["project_id"] == project["id"] and other["slug"] == slug:
                raise _conflict(
                    f"Project {project['id']} already has an environment named '{body.name}'"
                )
        environment_id = self._new_id("environments")
        row = {
            "id": environment_id,
            "project_id": project["id"],
            "name": body.name,
            "slug": slug,
            "branch": body.branch,
            "cpu_limit": None,
            "memory_limit": None,
            "replicas": 1,
            "exposed_port": None,
            "created_at": _CREATED,
        }
        self.tables["environments"][environment_id] = row
        return 201, row

    def _update_settings(self, call: _Call) -> tuple[int, object]:
        row = self._child(call, "environments", "environment_id", "Environment")
        row.update(call.read(_SettingsIn).model_dump(exclude_none=True))
        return 200, row

    def _delete_environment(self, call: _Call) -> tuple[int, object]:
        row = self._child(call, "environments", "environment_id", "Environment")
        del self.tables["environments"][row["id"]]
        for deployment_id in [
            i for i, d in self.tables["deployments"].items() if d["environment_id"] == row["id"]
        ]:
            del self.tables["deployments"][deployment_id]
        for variable in self.tables["env_vars"].values():
            if row["id"] in variable["environment_ids"]:
                variable["environment_ids"] = [
                    i for i in variable["environment_ids"] if i != row["id"]
                ]
        return 204, None

    # Environment variables (answered with their values, as Temps does for plain ones)

    def _list_env_vars(self, call: _Call) -> tuple[int, object]:
        project = self._project(call)
        rows = [v for v in self.tables["env_vars"].values() if v["project_id"] == project["id"]]
        if "environment_id" in call.query:
            wanted = int(call.query["environment_id"])
            rows = [v for v in rows if wanted in v["environment_ids"]]
        return self._page(call, sorted(rows, key=lambda r: r["id"]), "variables")

    def _create_env_var(self, call: _Call) -> tuple[int, object]:
        project = self._project(call)
        body = call.read(_EnvVarIn)
        self._check_environments(project["id"], body.environment_ids)
        for other in self.tables["env_vars"].values():
            if other["project_id"] == project["id"] and other["key"] == body.key:
                raise _conflict(f"Variable {body.key} already exists in project {project['id']}")
        variable_id = self._new_id("env_vars")
        row = {
            "id": variable_id,
            "project_id": project["id"],
            **body.model_dump(),
            "created_at": _CREATED,
            "updated_at": _CREATED,
        }
        self.tables["env_vars"][variable_id] = row
        return 201, row

    def _update_env_var(self, call: _Call) -> tuple[int, object]:
        row = self._child(call, "env_vars", "variable_id", "Environment variable")
        body = call.read(_EnvVarIn)
        self._check_environments(row["project_id"], body.environment_ids)
        if body.key != row["key"]:
            raise _Problem(422, "Unprocessable Entity", "key: cannot be changed")
        row.update(body.model_dump())
        return 200, row

    def _delete_env_var(self, call: _Call) -> tuple[int, object]:
        row = self._child(call, "env_vars", "variable_id", "Environment variable")
        del self.tables["env_vars"][row["id"]]
        return 204, None

    def _env_var_value(self, call: _Call) -> tuple[int, object]:
        project = self._project(call)
        for row in self.tables["env_vars"].values():
            if row["project_id"] == project["id"] and row["key"] == call.params["key"]:
                return 200, {"value": row["value"]}
        raise _not_found(f"Variable {call.params['key']} not found in project {project['id']}")

    # Deployments

    def _list_deployments(self, call: _Call) -> tuple[int, object]:
        project = self._project(call)
        rows = [d for d in self.tables["deployments"].values() if d["project_id"] == project["id"]]
        return self._page(call, sorted(rows, key=lambda r: -r["id"]), "deployments")

    def _get_deployment(self, call: _Call) -> tuple[int, object]:
        return 200, self._child(call, "deployments", "deployment_id", "Deployment")

    def _act_on_deployment(self, call: _Call) -> tuple[int, object]:
        row = self._child(call, "deployments", "deployment_id", "Deployment")
        action, status = call.params["action"], row["status"]
        allowed = {
            "cancel": ({"pending", "running", "paused"}, "cancelled", "cancelled"),
            "pause": ({"running"}, "paused", "paused"),
            "resume": ({"paused"}, "running", "resumed"),
            "rollback": ({"completed"}, "completed", "rolled back to"),
        }
        if action not in allowed:
            raise _not_found(f"No deployment action '{action}'")
        from_states, to_state, done = allowed[action]
        if status not in from_states:
            raise _conflict(
                f"Deployment {row['id']} is {status}: only a "
                f"{' or '.join(sorted(from_states))} deployment can be {done}"
            )
        if action == "rollback":
            if row["is_current"]:
                raise _conflict(
                    f"Deployment {row['id']} is already the current deployment of environment "
                    f"{row['environment_id']}"
                )
            for other in self.tables["deployments"].values():
                if other["environment_id"] == row["environment_id"]:
                    other["is_current"] = False
            row["is_current"] = True
        row["status"] = to_state
        return 200, {"id": row["id"], "state": to_state, "message": f"Deployment {action}"}


def main() -> None:
    """Serve a fake Temps on loopback until interrupted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token", default=FAKE_TOKEN)
    args = parser.parse_args()
    uvicorn.run(FakeTemps(args.token).asgi, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
