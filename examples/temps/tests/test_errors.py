"""Temps' problem details become readable reports, each of the SDK's error types."""

from __future__ import annotations

import socket
from collections.abc import Generator

import anyio
import httpx
import pytest
from temps_client import TempsClient, TempsConflict, TempsInvalid, TempsNotFound

import tempest_sdk as tempest
from tempest_sdk.models import AppHealthReportRequest, TaskReport
from tempest_sdk.testing import invoke

from ..app import Services, TempsSettings
from .fake_temps import FAKE_TOKEN, FakeTemps


def health_of(app: tempest.App) -> tuple[str, str]:
    """The status and message of the app's one health check, run inside its lifespan."""

    async def check() -> AppHealthReportRequest | None:
        async with app.serving():
            return await app.check_health()

    health = anyio.run(check)
    assert health is not None
    [item] = health.health_reports
    return str(item.status), item.message or ""


def failed(report: TaskReport) -> str:
    assert report.status == "error", "the task was expected to fail"
    assert report.message is not None
    return report.message


def test_404_is_resource_not_found(wired: tempest.App) -> None:
    assert failed(invoke(wired, "project", "read", external_id="42")) == (
        "read of 'project' failed: resource not found: "
        "Project 42 not found (Temps answered 404 Not Found to GET /projects/42)"
    )
    # Environment 1 exists, but in project 1.
    assert failed(invoke(wired, "environment", "read", external_id="2/1")) == (
        "read of 'environment' failed: resource not found: Environment 1 not found in "
        "project 2 (Temps answered 404 Not Found to GET /projects/2/environments/1)"
    )
    assert failed(invoke(wired, "environment_variable", "read", external_id="1/99")) == (
        "read of 'environment_variable' failed: resource not found: "
        "project 1 has no environment variable 99"
    )
    assert failed(invoke(wired, "deployment", "pause", external_id="9/1")) == (
        "action 'pause' of 'deployment' failed: resource not found: Project 9 not found "
        "(Temps answered 404 Not Found to POST /projects/9/deployments/1/pause)"
    )


def test_409_is_a_conflict(wired: tempest.App, fake: FakeTemps) -> None:
    before = fake.snapshot()
    assert failed(invoke(wired, "project", "create", input={"name": "Storefront"})) == (
        "create of 'project' failed: conflict: A project with slug 'storefront' already "
        "exists (Temps answered 409 Conflict to POST /projects)"
    )
    assert failed(invoke(wired, "deployment", "cancel", external_id="1/1")) == (
        "action 'cancel' of 'deployment' failed: conflict: Deployment 1 is completed: only a "
        "paused or pending or running deployment can be cancelled "
        "(Temps answered 409 Conflict to POST /projects/1/deployments/1/cancel)"
    )
    assert "is already the current deployment of environment 1" in failed(
        invoke(wired, "deployment", "rollback", external_id="1/2")
    )
    assert "only a paused deployment can be resumed" in failed(
        invoke(wired, "deployment", "resume", external_id="1/3")
    )
    assert fake.snapshot() == before


def test_422_is_invalid_input(wired: tempest.App, fake: FakeTemps) -> None:
    message = failed(
        invoke(
            wired,
            "environment_variable",
            "create",
            input={"project_id": 1, "key": "TOKEN", "value": "x", "environment_ids": [3]},
        )
    )
    assert message == (
        "create of 'environment_variable' failed: invalid input: environment_ids: 3 is not "
        "an environment of project 1 (Temps answered 422 Unprocessable Entity to "
        "POST /projects/1/env-vars)"
    )
    assert fake.created_rows() == {n: [] for n in fake.tables}


def test_the_errors_are_the_sdk_types() -> None:
    assert issubclass(TempsNotFound, tempest.ResourceNotFoundError)
    assert issubclass(TempsInvalid, tempest.InvalidInputError)
    assert issubclass(TempsConflict, tempest.TaskError)


def test_input_the_schema_refuses_never_reaches_temps(wired: tempest.App, fake: FakeTemps) -> None:
    message = failed(
        invoke(
            wired,
            "environment_variable",
            "create",
            input={"project_id": 1, "key": "1-BAD", "value": "x"},
        )
    )
    assert message.startswith("invalid input for create of 'environment_variable': key: ")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("resource_type", "external_id", "expected"),
    [
        ("project", "web", "'web' is not a Temps project id: expected its number, like '12'"),
        ("project", "12\n", "'12\\n' is not a Temps project id: expected its number, like '12'"),
        (
            "environment",
            "12",
            "'12' is not a Temps environment id: expected '<project id>/<environment id>', "
            "like '12/3'",
        ),
        (
            "deployment",
            "12/x",
            "'12/x' is not a Temps deployment id: expected '<project id>/<deployment id>', "
            "like '12/678'",
        ),
    ],
)
def test_a_malformed_external_id_says_what_it_should_look_like(
    wired: tempest.App, fake: FakeTemps, resource_type: str, external_id: str, expected: str
) -> None:
    message = failed(invoke(wired, resource_type, "read", external_id=external_id))
    assert message == f"read of {resource_type!r} failed: invalid input: {expected}"
    assert fake.requests == []


def test_a_foreign_list_cursor_is_refused(wired: tempest.App) -> None:
    assert failed(invoke(wired, "project", "list", next="abc")) == (
        "list of 'project' failed: invalid input: list cursor 'abc' is not a Temps page "
        "number (1, 2, ...)"
    )
    assert "expected '<project page>.<project index>.<page>'" in failed(
        invoke(wired, "deployment", "list", next="2")
    )


def _wired_to(
    url: str, token: str, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[httpx.AsyncClient, Services]:
    http = httpx.AsyncClient(
        transport=transport,
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
    )
    settings = tempest.load_settings(TempsSettings, url=url, token=token)
    return http, Services(settings, TempsClient(http))


@pytest.fixture
def wrong_token(app: tempest.App, fake: FakeTemps) -> Generator[tempest.App]:
    http, services = _wired_to(
        "http://127.0.0.1/api", "not-the-token", httpx.ASGITransport(app=fake.asgi)
    )
    with app.overriding_state(services):
        yield app
    anyio.run(http.aclose)


def test_a_refused_token_says_to_check_it(wrong_token: tempest.App) -> None:
    assert failed(invoke(wrong_token, "project", "read", external_id="1")) == (
        "read of 'project' failed: Temps refused the API token: Missing or invalid API token "
        "(Temps answered 401 Unauthorized to GET /projects/1); check TEMPS_TOKEN"
    )
    status, message = health_of(wrong_token)
    assert status == "disrupted"
    assert message.startswith("Temps refused the API token")


@pytest.fixture
def unreachable(app: tempest.App) -> Generator[tuple[tempest.App, str]]:
    # A loopback port that nothing listens on any more.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    http, services = _wired_to(url, FAKE_TOKEN)
    with app.overriding_state(services):
        yield app, url
    anyio.run(http.aclose)


def test_an_unreachable_temps_is_disrupted(unreachable: tuple[tempest.App, str]) -> None:
    app, url = unreachable
    message = failed(invoke(app, "project", "list"))
    assert message.startswith(
        f"list of 'project' failed: cannot reach Temps at {url}/: ConnectError on GET /projects"
    )
    status, message = health_of(app)
    assert status == "disrupted"
    assert message.startswith(f"cannot reach Temps at {url}/: ConnectError on GET /projects")
