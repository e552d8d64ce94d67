"""Bad requests get a 400 that says what is wrong, where, what was expected and what
came, and each is recorded as a violation."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tempest_sdk.client import BadRequestError
from tempest_sdk.emulator import Emulator
from tempest_sdk.models import (
    ActionDefinition,
    ConnectRequest,
    ExecuteResourceOperationResponse,
    Resource,
    ResourceDefinition,
    TaskReport,
)

from .conftest import APP, VERSION


def post(emulator: Emulator, endpoint: str, body: Any, **headers: str) -> httpx.Response:
    """POST raw JSON (or bytes) to the emulator in process."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"authorization": f"Bearer {emulator.token}", "content-type": "application/json"}
    sent |= headers
    with httpx.Client(transport=emulator.transport(), base_url=emulator.url) as http:
        return http.post(f"/{endpoint}", content=content, headers=sent)


def rejected(emulator: Emulator, endpoint: str, body: Any, **headers: str) -> str:
    answer = post(emulator, endpoint, body, **headers)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert answer.json() == {"status": "error", "error": error}
    assert emulator.violations[-1].endpoint == endpoint
    assert emulator.violations[-1].message == error
    return str(error)


@pytest.mark.parametrize(
    ("endpoint", "body", "expected"),
    [
        (
            "apps.operations.next",
            {"app_id": APP},
            "version: expected a string, got nothing (required)",
        ),
        (
            "apps.operations.next",
            {"app_id": 42, "version": VERSION},
            "app_id: expected a string, got a number",
        ),
        (
            "apps.versions.health",
            {"app_id": APP, "version": VERSION, "health_reports": [{"type": "x", "status": "ok"}]},
            "health_reports[0].status: expected one of 'healthy', 'degraded', 'disrupted', "
            "got 'ok'",
        ),
        (
            "apps.operations.report",
            {"task_id": "t", "status": "done", "response": None},
            "status: expected one of 'ok', 'error', got 'done'",
        ),
        (
            "apps.operations.report",
            {"task_id": "t", "status": "error"},
            "response: expected an object with 'response_type' or null, got nothing (required)",
        ),
        (
            "apps.operations.report",
            {"task_id": "t", "status": "ok", "response": {"response_type": "deleted"}},
            "response.response_type: expected one of 'execute_resource_operation', "
            "'execute_resource_action', 'list_resources', got 'deleted'",
        ),
        (
            "apps.operations.report",
            {
                "task_id": "t",
                "status": "ok",
                "response": {
                    "response_type": "execute_resource_operation",
                    "resource": {"type": "example", "display_name": "E"},
                },
            },
            "response.resource.external_id: expected a string, got nothing (required)",
        ),
        (
            "apps.operations.report",
            {
                "task_id": "t",
                "status": "ok",
                "response": {
                    "response_type": "list_resources",
                    "resources": [
                        {
                            "type": "example",
                            "external_id": "e",
                            "display_name": "E",
                            "links": [{"title": "t", "url": "https://x", "type": "external"}],
                        }
                    ],
                },
            },
            'response.resources[0].links: expected an object {"links": [...]} or null, got an '
            "array",
        ),
        (
            "apps.operations.report",
            {
                "task_id": "t",
                "status": "ok",
                "response": {"response_type": "list_resources", "resources": []},
            },
            "response.next: expected a string, got nothing (required)",
        ),
        (
            "apps.version.connect",
            {
                "app_id": APP,
                "version": VERSION,
                "resources": [{"type": "x", "display_name": "X", "description": "d"}],
            },
            "resources[0].lifecycle_stage: expected a string, got nothing (required)",
        ),
        (
            "apps.version.connect",
            {
                "app_id": APP,
                "version": VERSION,
                "resources": [
                    ResourceDefinition(
                        type="x", display_name="X", description="d", lifecycle_stage="code"
                    ).to_wire()
                    | {"list_supported": "yes"}
                ],
            },
            "resources[0].list_supported: expected a boolean, got a string",
        ),
        ("resources.get", {"id": "r", "expand": True}, "expand: unexpected field"),
        ("projects.get", {}, "id: expected a string, got nothing (required)"),
        ("recipes.list", {"next": 3}, "next: expected a string or null, got a number"),
        ("apps.operations.next", [APP, VERSION], "body: expected an object, got an array"),
        ("apps.operations.next", b"", "body: expected a JSON object, got an empty body"),
        ("apps.operations.next", b'{"app_id": ', "body: expected JSON, got invalid JSON"),
    ],
)
def test_a_body_that_breaks_the_contract_is_a_precise_400(emulator, endpoint, body, expected):
    error = rejected(emulator, endpoint, body)

    assert error.startswith(f"invalid {endpoint} request: ")
    assert expected in error


def test_every_problem_is_listed_at_once(emulator):
    error = rejected(emulator, "apps.versions.health", {"app_id": 1, "health_reports": {}})

    problems = emulator.violations[-1].problems
    assert problems == (
        "app_id: expected a string, got a number",
        "version: expected a string, got nothing (required)",
        "health_reports: expected an array, got an object",
    )
    assert "; ".join(problems) in error


def test_free_text_is_never_quoted_back(emulator):
    # A wrong type is named, never echoed: the value might be a secret.
    error = rejected(
        emulator,
        "apps.operations.report",
        {"task_id": "t", "status": "error", "message": ["s3cr3t-value"], "response": None},
    )

    # The contract's `message` is a string: an optional one, but never null.
    assert "message: expected a string, got an array" in error
    assert "s3cr3t" not in error


def test_the_content_type_must_be_json(emulator):
    error = rejected(
        emulator,
        "apps.operations.next",
        {"app_id": APP, "version": VERSION},
        **{"content-type": "text/plain"},
    )

    assert "Content-Type header: expected 'application/json', got 'text/plain'" in error


def test_an_unknown_cursor_is_a_violation(emulator):
    error = rejected(emulator, "resources.list", {"next": "not-a-cursor"})

    assert "next: expected a cursor from a previous resources.list page" in error


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"app_id": "Hello_World"}, "app_id: expected an id matching ^[a-z0-9][a-z0-9-]+$"),
        ({"version": "1.0"}, "version: expected a version matching ^v\\d+$ (like 'v1'), got '1.0'"),
    ],
)
def test_connect_checks_app_id_and_version(emulator, change, expected):
    body = ConnectRequest(app_id=APP, version=VERSION, resources=[]).to_wire() | change

    assert expected in rejected(emulator, "apps.version.connect", body)


def _connect(*definitions: ResourceDefinition) -> dict[str, Any]:
    return ConnectRequest(app_id=APP, version=VERSION, resources=list(definitions)).to_wire()


def _kind(name: str, **fields: Any) -> ResourceDefinition:
    return ResourceDefinition(
        type=name, display_name=name, description="d", lifecycle_stage="code", **fields
    )


@pytest.mark.parametrize(
    ("definitions", "expected"),
    [
        ([_kind("bad type")], "resources[0].type: expected a name matching"),
        ([_kind("a"), _kind("a")], "resources[1].type: expected a type name not used before"),
        (
            [_kind("a", actions=[ActionDefinition(name="go"), ActionDefinition(name="go")])],
            "resources[0].actions[1].name: expected an action name not used before, got 'go'",
        ),
        (
            [_kind("a", actions=[ActionDefinition(display_name="Go")])],
            "resources[0].actions[0].name: expected the action's name, got nothing",
        ),
        (
            [_kind("a", property_json_schema={"type": "array"})],
            "resources[0].property_json_schema.type: expected 'object', got 'array'",
        ),
        (
            [
                _kind(
                    "a",
                    property_json_schema={
                        "type": "object",
                        "properties": {"address": {"type": "object"}},
                    },
                )
            ],
            "resources[0].property_json_schema.properties.address: expected a non-object property",
        ),
        (
            [
                _kind(
                    "a",
                    property_json_schema={
                        "type": "object",
                        "properties": {"tags": {"type": "array", "items": {"type": "object"}}},
                    },
                )
            ],
            "got an array of objects",
        ),
        (
            [
                _kind(
                    "a",
                    property_json_schema={
                        "type": "object",
                        "properties": {"owner": {"$ref": "#/definitions/owner"}},
                    },
                )
            ],
            "resources[0].property_json_schema.properties.owner: expected an inline schema",
        ),
    ],
)
def test_connect_checks_the_rules_of_the_control_plane(emulator, definitions, expected):
    assert expected in rejected(emulator, "apps.version.connect", _connect(*definitions))


async def test_a_report_of_the_wrong_kind_is_rejected_through_the_client(emulator):
    task_id = emulator.enqueue_list(APP, VERSION, "example")
    resource = Resource(type="example", external_id="e", display_name="E")
    async with emulator.client(max_retries=0) as client:
        await client.next_task(APP, VERSION)
        with pytest.raises(BadRequestError) as caught:
            await client.report(
                TaskReport.ok(task_id, ExecuteResourceOperationResponse(resource=resource))
            )

    expected = (
        f"invalid apps.operations.report request: response.response_type: expected "
        f"'list_resources' (task {task_id!r} is a list_resources task), got "
        "'execute_resource_operation'"
    )
    assert caught.value.error == expected
    assert [v.message for v in emulator.violations] == [expected]
    assert emulator.reports(task_id) == []
    assert emulator.leased() == [task_id]


async def test_a_bad_connect_is_rejected_through_the_client(emulator):
    async with emulator.client(max_retries=0) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.connect_app_version(
                ConnectRequest(app_id=APP, version=VERSION, resources=[_kind("not valid")])
            )

    assert "resources[0].type: expected a name matching" in (caught.value.error or "")
    assert emulator.connects == []
    assert len(emulator.violations) == 1


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (
            {
                "status": "error",
                "message": "m",
                "response": {"response_type": "list_resources", "resources": [], "next": ""},
            },
            "response: expected null (status is 'error'), got an object",
        ),
        (
            {"status": "ok", "response": None},
            "response: expected a 'list_resources' response (status is 'ok'), got null",
        ),
    ],
)
def test_a_report_must_match_its_status(emulator, report, expected):
    task_id = emulator.enqueue_list(APP, VERSION, "example")

    assert expected in rejected(emulator, "apps.operations.report", {"task_id": task_id, **report})


def test_unknown_paths_and_methods(emulator):
    with httpx.Client(transport=emulator.transport(), base_url=emulator.url) as http:
        missing = http.post("/apps.operations.pull", json={})
        wrong_method = http.get("/apps.operations.next")

    assert missing.status_code == 404
    assert "POST to /api/v1/<endpoint>, one of apps.version.connect" in missing.json()["error"]
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert not emulator.violations


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, "missing bearer token: send the header 'Authorization: Bearer <token>'"),
        ("Basic dXNlcjpwYXNz", "the Authorization header must be 'Bearer <token>'"),
        ("Bearer wrong-secret-token", "invalid bearer token: it is not the emulator's token"),
    ],
)
def test_auth_failures_say_why_without_echoing_the_token(emulator, authorization, expected):
    headers = {"content-type": "application/json"}
    if authorization:
        headers["authorization"] = authorization
    with httpx.Client(transport=emulator.transport(), base_url=emulator.url) as http:
        answer = http.post("/apps.operations.next", json={}, headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {"status": "error", "error": expected}
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "wrong-secret" not in answer.text


@pytest.mark.parametrize("method", ["TRACE", "HEAD", "CONNECT", "PROPFIND", "GET", "DELETE"])
def test_every_unsupported_method_is_405_with_allow_on_the_socket(method: str) -> None:
    """Not http.server's 501: a method the endpoint does not take is 405 (RFC 9110)."""
    import http.client
    from urllib.parse import urlsplit

    with Emulator().serve_in_thread() as emulator:
        url = urlsplit(emulator.url)
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        try:
            connection.request(method, f"{url.path}/apps.operations.next")
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
    assert answer.status == 405
    assert answer.getheader("allow") == "POST"
    if method == "HEAD":
        assert body == b""  # an answer to HEAD carries no body
    else:
        assert "takes POST" in json.loads(body)["error"]


def test_timing_splits_the_wait_for_a_lease_from_the_run(emulator, clock):
    task_id = emulator.enqueue_list(APP, VERSION, "example")
    assert emulator.timing(task_id) == (None, None)
    clock.advance(5.0)
    assert (
        post(emulator, "apps.operations.next", {"app_id": APP, "version": VERSION}).status_code
        == 200
    )
    assert emulator.timing(task_id) == (5.0, None)
    clock.advance(2.0)
    report = {
        "task_id": task_id,
        "status": "ok",
        "message": "",
        "response": {"response_type": "list_resources", "resources": [], "next": ""},
    }
    assert post(emulator, "apps.operations.report", report).status_code == 200
    clock.advance(9.0)
    post(emulator, "apps.operations.report", report)  # a duplicate moves nothing
    assert emulator.timing(task_id) == (5.0, 2.0)
