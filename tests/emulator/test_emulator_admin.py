"""The admin endpoint (`/_emulator/tasks`): enqueue into a running emulator, read a task's
status; over a loopback socket and in process alike."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tempest_sdk.emulator import Emulator, list_request, operation_request
from tempest_sdk.models import ExecuteResourceOperationRequest, TaskReport

from .conftest import APP, VERSION

TASKS = "/_emulator/tasks"


@pytest.fixture
def admin(serving: Emulator, mode: str) -> Iterator[httpx.Client]:
    """A plain httpx client of the emulator's root, with its token."""
    root = serving.url.removesuffix(serving.base_path)
    transport = serving.transport() if mode == "in-process" else None
    with httpx.Client(
        base_url=root,
        transport=transport,
        headers={"authorization": f"Bearer {serving.token}"},
        timeout=10,
    ) as client:
        yield client


def test_a_posted_task_is_queued_like_an_enqueued_one(serving, admin):
    task = operation_request("example", "create", input={"color": "blue"})

    answer = admin.post(TASKS, json={"app_id": APP, "version": VERSION, "task": task})

    assert answer.status_code == 201, answer.text
    status = answer.json()
    task_id = status["task_id"]
    assert answer.headers["location"] == f"{TASKS}/{task_id}"
    assert status == {
        "task_id": task_id,
        "app_id": APP,
        "version": VERSION,
        "request_type": "execute_resource_operation",
        "state": "queued",
        "deliveries": 0,
        "reports": [],
    }
    assert serving.queued(APP, VERSION) == [task_id]
    queued = serving.task(task_id)
    assert isinstance(queued.task, ExecuteResourceOperationRequest)
    assert queued.task.input == {"color": "blue"}
    # Admin calls are not app traffic.
    assert serving.request_counts == {}
    assert serving.violations == []


async def test_the_status_follows_the_task_through_next_and_report(serving, admin, client):
    posted = admin.post(
        TASKS,
        json={"app_id": APP, "version": VERSION, "task": list_request("example"), "task_id": "t-1"},
    )
    assert posted.status_code == 201, posted.text

    task = await client.next_task(APP, VERSION)
    assert task is not None and task.task_id == "t-1"
    leased = admin.get(f"{TASKS}/t-1").json()
    await client.report(
        TaskReport.model_validate(
            {
                "task_id": "t-1",
                "status": "ok",
                "response": {"response_type": "list_resources", "resources": [], "next": ""},
            }
        )
    )
    reported = admin.get(f"{TASKS}/t-1").json()

    assert (leased["state"], leased["deliveries"]) == ("leased", 1)
    assert reported["state"] == "reported"
    assert reported["reports"] == serving.reports("t-1")
    assert reported["reports"][0]["status"] == "ok"


def test_task_id_and_metadata_are_taken_and_a_taken_id_is_refused(serving, admin):
    metadata = {
        "owners": [],
        "author": {"email": "b@example.com", "name": "B", "type": "user"},
        "project_id": "p-1",
        "project_name": "P",
    }
    body = {
        "app_id": APP,
        "version": VERSION,
        "task": list_request("example"),
        "metadata": metadata,
        "task_id": "my/task 1",
    }

    first = admin.post(TASKS, json=body)
    again = admin.post(TASKS, json=body)
    status = admin.get(f"{TASKS}/my%2Ftask%201")

    assert first.status_code == 201 and first.json()["task_id"] == "my/task 1"
    assert first.headers["location"] == f"{TASKS}/my%2Ftask%201"
    assert serving.task("my/task 1").metadata.project_id == "p-1"
    assert again.status_code == 409
    assert "task id 'my/task 1' is already used" in again.json()["error"]
    assert status.status_code == 200 and status.json()["task_id"] == "my/task 1"


def test_the_status_never_shows_the_task_or_its_secrets(admin):
    task = operation_request(
        "example",
        "create",
        input={"password": "input-s3cr3t"},
        environment_variables=[{"name": "KEY", "value": "env-s3cr3t", "type": "secret"}],
    )

    posted = admin.post(TASKS, json={"app_id": APP, "version": VERSION, "task": task})
    status = admin.get(f"{TASKS}/{posted.json()['task_id']}")

    for answer in (posted, status):
        assert "s3cr3t" not in answer.text


def test_the_token_is_required_and_never_echoed(serving, admin):
    body = {"app_id": APP, "version": VERSION, "task": list_request("example")}

    missing = admin.post(TASKS, json=body, headers={"authorization": ""})
    wrong = admin.post(TASKS, json=body, headers={"authorization": "Bearer real-looking-token"})
    reading = admin.get(f"{TASKS}/x", headers={"authorization": "Bearer real-looking-token"})

    for answer in (missing, wrong, reading):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "real-looking-token" not in answer.text
    assert "not the emulator's token" in wrong.json()["error"]
    assert serving.queued() == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{", 400, "the request body is not JSON: Expecting property name"),
        (b"[]", 400, 'the body must be a JSON object: {"app_id", "version", "task"}'),
        (
            b'{"app_id": "helloworld", "version": "v1", "task": {}, "queue": "x"}',
            400,
            "unknown field 'queue': the body takes app_id, version, task, metadata, task_id",
        ),
        (b'{"app_id": "helloworld", "task": {}}', 400, "version: missing"),
        (
            b'{"app_id": "Hello World", "version": "v1", "task": {}}',
            400,
            "app_id: expected an app id like 'my-app' (lowercase letters, digits and '-', "
            "as apps declare it), got 'Hello World'",
        ),
        (
            b'{"app_id": "helloworld", "version": 1, "task": {}}',
            400,
            "version: expected a version like 'v1', got a number",
        ),
        (b'{"app_id": "helloworld", "version": "v1", "task": []}', 400, "task: expected an object"),
        (
            b'{"app_id": "helloworld", "version": "v1", "task": {}, "metadata": []}',
            400,
            "metadata: expected an object",
        ),
        (
            b'{"app_id": "helloworld", "version": "v1", "task": {}, "task_id": ""}',
            400,
            "task_id: expected a non-empty string",
        ),
        (
            b'{"app_id": "helloworld", "version": "v1", '
            b'"task": {"request_type": "list_resources"}}',
            400,
            "cannot enqueue this task: task.resource: expected an object",
        ),
    ],
)
def test_a_bad_request_says_what_is_wrong(serving, admin, body, status, message):
    answer = admin.post(TASKS, content=body, headers={"content-type": "application/json"})

    assert answer.status_code == status
    assert answer.json() == {"status": "error", "error": answer.json()["error"]}
    assert message in answer.json()["error"]
    assert serving.queued() == []
    assert serving.violations == []  # the admin endpoint is not part of the contract


def test_json_is_required(admin):
    answer = admin.post(TASKS, content=b"app_id=x", headers={"content-type": "text/plain"})

    assert answer.status_code == 415
    assert "Content-Type: application/json" in answer.json()["error"]


def test_unknown_paths_tasks_and_methods(admin):
    nowhere = admin.post("/_emulator/queues", json={})
    unknown = admin.get(f"{TASKS}/no-such-task")
    nested = admin.get(f"{TASKS}/a/b")
    listing = admin.get(TASKS)
    deleting = admin.delete(f"{TASKS}/x")

    assert nowhere.status_code == 404
    assert f"POST {TASKS} or GET {TASKS}/<task_id>" in nowhere.json()["error"]
    assert unknown.status_code == 404
    assert "no task 'no-such-task' was enqueued" in unknown.json()["error"]
    assert nested.status_code == 404
    assert (listing.status_code, listing.headers["allow"]) == (405, "POST")
    assert (deleting.status_code, deleting.headers["allow"]) == (405, "GET, HEAD")


def test_the_base_path_cannot_hide_the_admin_endpoint():
    with pytest.raises(ValueError, match="base_path must not start with '/_emulator/'"):
        Emulator(base_path="/_emulator/api")
