"""The emulator as tests use it: serving, enqueueing, inspecting and waiting."""

from __future__ import annotations

import socket
import threading

import anyio
import httpx
import pytest

from tempest_sdk.emulator import Emulator
from tempest_sdk.models import (
    EnvironmentVariable,
    ExecuteResourceOperationRequest,
    ListResourcesRequest,
    ListResourcesResponse,
    Resource,
    TaskReport,
)

from .conftest import APP, VERSION


async def test_serve_in_the_event_loop_and_stop(emulator):
    async with emulator.serve() as served:
        assert served is emulator
        assert emulator.serving
        assert emulator.url.startswith("http://127.0.0.1:")
        assert emulator.url.endswith("/api/v1")
        url = emulator.url
        async with emulator.client() as client:
            assert await client.next_task(APP, VERSION) is None

    assert not emulator.serving
    assert emulator.url == "http://127.0.0.1:0/api/v1"
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(f"{url}/apps.operations.next")


def test_a_stopped_server_closes_keep_alive_connections(emulator):
    body = b'{"app_id":"helloworld","version":"v1"}'
    request = (
        b"POST /api/v1/apps.operations.next HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {emulator.token}\r\n".encode()
        + b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with emulator.serve_in_thread():
        port = int(emulator.url.split(":")[2].split("/")[0])
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(request)
        first = sock.recv(65536)

    with sock:
        assert first.startswith(b"HTTP/1.1 204")
        assert sock.recv(65536) == b""  # closed by the stop, not left to serve on


def test_serving_twice_at_once_is_refused(emulator):
    with (
        emulator.serve_in_thread(),
        pytest.raises(RuntimeError, match="already serving at"),
        emulator.serve_in_thread(),
    ):
        pass  # pragma: no cover


def test_a_base_path_and_a_port_can_be_chosen():
    emulator = Emulator(base_path="tempest/api/", token="t0k3n")

    with emulator.serve_in_thread() as served:
        port = int(served.url.split(":")[2].split("/")[0])
        assert served.url == f"http://127.0.0.1:{port}/tempest/api"
        with served.sync_client() as client:
            assert client.next_task(APP, VERSION) is None


def test_wait_for_reports_blocks_until_reported(emulator):
    task_id = emulator.enqueue_list(APP, VERSION, "example")

    def work() -> None:
        with emulator.sync_client() as client:
            client.next_task(APP, VERSION)
            client.report(TaskReport.ok(task_id, ListResourcesResponse(resources=[])))

    worker = threading.Thread(target=work)
    worker.start()
    reported = emulator.wait_for_reports(1, timeout=10)
    worker.join(timeout=10)

    assert reported == [task_id]


def test_wait_for_reports_says_what_it_waited_for(emulator):
    emulator.enqueue_list(APP, VERSION, "example")
    with httpx.Client(transport=emulator.transport(), base_url=emulator.url) as http:
        auth = {"authorization": f"Bearer {emulator.token}"}
        http.post("/apps.operations.next", json={"app_id": APP}, headers=auth)  # a violation

    with pytest.raises(TimeoutError) as caught:
        emulator.wait_for_reports(1, timeout=0.01)

    message = str(caught.value)
    assert message.startswith("waited 0.01 s for 1 reported tasks: 0 reported, 0 leased, 1 queued")
    assert "1 violations; last violation: invalid apps.operations.next request: version" in message


async def test_async_waits_do_not_block_the_loop(emulator):
    task_id = emulator.enqueue_list(APP, VERSION, "example")

    async def work() -> None:
        async with emulator.client() as client:  # in process: runs in this very loop
            await client.next_task(APP, VERSION)
            await client.report(TaskReport.ok(task_id, ListResourcesResponse(resources=[])))

    async with anyio.create_task_group() as tg:
        tg.start_soon(work)
        assert await emulator.wait_for_reports_async(1, timeout=10) == [task_id]
    with pytest.raises(TimeoutError, match="for 2 reported tasks"):
        await emulator.wait_for_reports_async(2, timeout=0.01)


async def test_wait_for_connects_and_health(emulator):
    from tempest_sdk.models import AppHealthReportItem, AppHealthReportRequest, ConnectRequest

    async with emulator.client() as client:
        await client.connect_app_version(ConnectRequest(app_id=APP, version=VERSION, resources=[]))
        await client.report_health(
            AppHealthReportRequest(
                app_id=APP,
                version=VERSION,
                health_reports=[AppHealthReportItem(type="example", status="healthy")],
            )
        )

    assert (await emulator.wait_for_connects_async(1, timeout=1))[0]["app_id"] == APP
    assert emulator.wait_for_connects(1, timeout=1)[0]["version"] == VERSION
    assert emulator.wait_for_health_reports(1, timeout=1)[0]["health_reports"][0]["type"]
    assert len(await emulator.wait_for_health_reports_async(1, timeout=1)) == 1
    with pytest.raises(TimeoutError, match="2 connects"):
        emulator.wait_for_connects(2, timeout=0.01)


def test_inspection_returns_copies(emulator):
    task_id = emulator.enqueue_list(APP, VERSION, "example")
    with emulator.sync_client() as client:
        client.next_task(APP, VERSION)
        client.report(TaskReport.ok(task_id, ListResourcesResponse(resources=[])))

    emulator.reports(task_id)[0]["status"] = "tampered"
    emulator.request_counts.clear()

    assert emulator.reports(task_id)[0]["status"] == "ok"
    assert emulator.request_counts == {
        ("apps.operations.next", 200): 1,
        ("apps.operations.report", 200): 1,
    }


def test_unknown_task_ids_are_a_clear_key_error(emulator):
    with pytest.raises(KeyError, match="no task 'nope' was enqueued"):
        emulator.reports("nope")
    with pytest.raises(KeyError):
        emulator.deliveries("nope")


def test_queues_can_be_inspected_per_app_version(emulator):
    a = emulator.enqueue_list(APP, "v1", "example")
    b = emulator.enqueue_list(APP, "v2", "example")

    assert emulator.queued() == [a, b]
    assert emulator.queued(APP, "v2") == [b]
    assert emulator.queued("other") == []


def test_enqueue_takes_models_dicts_and_explicit_ids(emulator):
    by_model = emulator.enqueue(
        APP,
        VERSION,
        ExecuteResourceOperationRequest(
            resource=Resource(type="example", external_id="e", display_name="E"),
            operation="update",
            input={"size": 3},
            environment_variables=[
                EnvironmentVariable(name="KEY", value="s3cr3t", type="private_key")
            ],
        ),
        task_id="task-1",
    )
    by_dict = emulator.enqueue(
        APP,
        VERSION,
        {
            "request_type": "list_resources",
            "resource": {"type": "example", "external_id": "", "display_name": ""},
            "next": "page-2",
        },
        metadata={
            "owners": [],
            "author": {"email": "a@example.com", "name": "A", "type": "user"},
            "project_id": "p",
            "project_name": "P",
        },
    )

    task = emulator.task(by_model)
    assert by_model == "task-1"
    assert isinstance(task.task, ExecuteResourceOperationRequest)
    assert task.task.environment_variables[0].reveal() == "s3cr3t"
    assert "s3cr3t" not in repr(task)
    listing = emulator.task(by_dict)
    assert isinstance(listing.task, ListResourcesRequest)
    assert listing.task.next == "page-2"
    assert listing.metadata.project_id == "p"


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"request_type": "list_resources"}, "task.resource: expected an object"),
        (
            {"request_type": "teleport", "resource": {}},
            "task.request_type: expected one of 'execute_resource_operation'",
        ),
    ],
)
def test_enqueue_refuses_tasks_that_break_the_contract(emulator, task, message):
    with pytest.raises(ValueError, match=f"cannot enqueue this task: {message}"):
        emulator.enqueue(APP, VERSION, task)


def test_enqueue_helpers_check_their_arguments(emulator):
    emulator.enqueue_list(APP, VERSION, "example", next="", metadata=None)
    task_id = emulator.enqueue_operation(
        APP, VERSION, "example", "delete", external_id="x", environment_variables={"A": "1"}
    )

    env = emulator.task(task_id).task.environment_variables
    assert [(v.name, v.reveal(), v.type) for v in env] == [("A", "1", "variable")]
    with pytest.raises(ValueError, match="unknown operation 'destroy': use one of 'create'"):
        emulator.enqueue_operation(APP, VERSION, "example", "destroy")
    with pytest.raises(ValueError, match="already used"):
        emulator.enqueue(APP, VERSION, emulator.task(task_id).task, task_id=task_id)


def test_seeded_task_ids_are_reproducible(clock):
    def ids() -> list[str]:
        emulator = Emulator(seed=11, clock=clock)
        return [emulator.enqueue_list(APP, VERSION, "example") for _ in range(3)]

    assert ids() == ids()
    assert len(set(ids())) == 3


def test_seeding_objects_validates_them(emulator):
    resource = emulator.add_resource(Resource(type="example", external_id="e", display_name="E"))

    assert resource.id
    with pytest.raises(ValueError, match="invalid project: name: Field required"):
        emulator.add_project({"id": "p", "organization_id": "o", "type": "t"})
    with pytest.raises(ValueError, match="page_size must be an integer >= 1"):
        emulator.set_page_size(0)


def test_reset_forgets_everything_but_seeded_objects(emulator):
    emulator.enqueue_list(APP, VERSION, "example")
    emulator.inject("*", status=500)
    with httpx.Client(transport=emulator.transport(), base_url=emulator.url) as http:
        http.post("/apps.operations.next", json={})

    emulator.reset()

    assert emulator.queued() == []
    assert emulator.faults == []
    assert emulator.request_counts == {}
    assert emulator.violations == []
    with emulator.sync_client() as client:
        assert client.get_project("proj_emulator").id == "proj_emulator"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": ""}, "token must be a non-empty string"),
        ({"token": " padded "}, "token must be a non-empty string"),
        ({"lease_timeout": 0}, "lease_timeout must be a positive number"),
        ({"page_size": 0}, "page_size must be an integer >= 1"),
    ],
)
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Emulator(**kwargs)


def test_the_repr_never_shows_the_token():
    emulator = Emulator(token="very-secret-token")

    assert "very-secret-token" not in repr(emulator)
    assert repr(emulator) == "<Emulator http://127.0.0.1:0/api/v1 tasks=0>"
