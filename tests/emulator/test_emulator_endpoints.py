"""Every endpoint of the contract, driven with the project's own client, over a real
socket and in process."""

from __future__ import annotations

import pytest

from tempest_sdk.client import AuthenticationError, NotFoundError
from tempest_sdk.emulator import Emulator
from tempest_sdk.models import (
    AppHealthReportItem,
    AppHealthReportRequest,
    ConnectRequest,
    ExecuteResourceActionRequest,
    ExecuteResourceActionResponse,
    ExecuteResourceOperationRequest,
    ExecuteResourceOperationResponse,
    ListResourcesRequest,
    ListResourcesResponse,
    Operation,
    Resource,
    ResourceDefinition,
    TaskReport,
)

from .conftest import APP, VERSION, fast_client


def _definition(kind: str = "example") -> ResourceDefinition:
    return ResourceDefinition(
        type=kind,
        display_name="Example",
        description="An example resource.",
        lifecycle_stage="code",
        create_supported=True,
        property_json_schema={"type": "object", "properties": {"color": {"type": "string"}}},
    )


async def test_connect_answers_with_the_app_url_and_is_stored(client, serving: Emulator):
    answer = await client.connect_app_version(
        ConnectRequest(app_id=APP, version=VERSION, resources=[_definition()])
    )

    assert answer.status == "ok"
    assert answer.metadata is not None
    root = serving.url.removesuffix(serving.base_path)
    assert answer.metadata.tempest_app_url == f"{root}/apps/{APP}/{VERSION}"
    (stored,) = serving.connects
    assert stored["app_id"] == APP
    assert stored["resources"][0]["type"] == "example"


async def test_next_hands_out_tasks_fifo_then_204(client, serving: Emulator):
    first = serving.enqueue_operation(APP, VERSION, "example", "create", input={"color": "red"})
    second = serving.enqueue_action(APP, VERSION, "example", "rebuild", external_id="ex-1")
    third = serving.enqueue_list(APP, VERSION, "example")

    tasks = [await client.next_task(APP, VERSION) for _ in range(3)]

    assert [t.task_id for t in tasks] == [first, second, third]
    create, action, listing = (t.task for t in tasks)
    assert isinstance(create, ExecuteResourceOperationRequest)
    assert create.operation is Operation.CREATE
    assert create.input == {"color": "red"}
    assert isinstance(action, ExecuteResourceActionRequest)
    assert (action.action, action.resource.external_id) == ("rebuild", "ex-1")
    assert isinstance(listing, ListResourcesRequest)
    assert listing.next == ""
    assert await client.next_task(APP, VERSION) is None
    assert serving.request_counts[("apps.operations.next", 204)] == 1


async def test_tasks_carry_realistic_metadata_and_environment(client, serving: Emulator):
    serving.enqueue_operation(APP, VERSION, "example", "read", external_id="ex-1")

    task = await client.next_task(APP, VERSION)

    assert task is not None
    assert task.metadata.project_id == "proj_emulator"
    assert task.metadata.author.email
    assert task.metadata.owners
    assert isinstance(task.task, ExecuteResourceOperationRequest)
    env = {v.name: v for v in task.task.environment_variables or []}
    assert env["ENVIRONMENT"].reveal() == "emulator"
    assert env["API_TOKEN"].is_sensitive
    assert task.task.resource.id
    # The project a task names exists on the read-only endpoints too.
    assert (await client.get_project(task.metadata.project_id)).id == "proj_emulator"


async def test_queues_are_per_app_id_and_version(client, serving: Emulator):
    v1 = serving.enqueue_list(APP, "v1", "example")
    v2 = serving.enqueue_list(APP, "v2", "example")

    assert await client.next_task("other-app", "v1") is None
    assert (await client.next_task(APP, "v2")).task_id == v2
    assert (await client.next_task(APP, "v1")).task_id == v1


async def test_reports_of_every_kind_are_recorded(client, serving: Emulator):
    op = serving.enqueue_operation(APP, VERSION, "example", "create")
    action = serving.enqueue_action(APP, VERSION, "example", "rebuild", external_id="ex-1")
    listing = serving.enqueue_list(APP, VERSION, "example")
    failed = serving.enqueue_operation(APP, VERSION, "example", "delete", external_id="ex-1")
    for _ in range(4):
        await client.next_task(APP, VERSION)
    resource = Resource(type="example", external_id="ex-1", display_name="Example 1")

    answers = [
        await client.report(TaskReport.ok(op, ExecuteResourceOperationResponse(resource=resource))),
        await client.report(
            TaskReport.ok(action, ExecuteResourceActionResponse(output={"rebuilt": True}))
        ),
        await client.report(
            TaskReport.ok(listing, ListResourcesResponse(resources=[resource], next=""))
        ),
        await client.report(TaskReport.error(failed, "the API said no")),
    ]

    assert all(a.status == "ok" for a in answers)
    assert serving.reported() == [op, action, listing, failed]
    assert serving.queued() == serving.leased() == []
    assert serving.reports(op)[0]["response"]["resource"]["external_id"] == "ex-1"
    assert serving.reports(action)[0]["response"]["output"] == {"rebuilt": True}
    assert serving.reports(failed) == [
        {"task_id": failed, "status": "error", "message": "the API said no", "response": None}
    ]


async def test_report_for_an_unknown_task_is_404(client, serving: Emulator):
    with pytest.raises(NotFoundError) as caught:
        await client.report(TaskReport.error("no-such-task", "boom"))

    assert caught.value.status_code == 404
    assert "no-such-task" in (caught.value.error or "")
    assert not serving.violations


async def test_health_reports_are_stored(client, serving: Emulator):
    request = AppHealthReportRequest(
        app_id=APP,
        version=VERSION,
        health_reports=[AppHealthReportItem(type="example", status="degraded", message="slow")],
    )

    answer = await client.report_health(request)

    assert answer.status == "ok"
    assert serving.health_reports == [request.to_wire()]


async def test_read_only_endpoints_serve_seeded_objects_page_by_page(client, serving: Emulator):
    serving.set_page_size(2)
    for n in range(5):
        serving.add_resource(
            {"id": f"r{n}", "type": "example", "external_id": f"ex-{n}", "display_name": f"E{n}"}
        )
        serving.add_recipe({"id": f"rec{n}", "name": f"recipe {n}", "type": "service"})
    serving.add_project(
        {"id": "p2", "name": "second", "organization_id": "org_emulator", "type": "service"}
    )

    resources = [r async for r in client.iter_resources()]
    recipes = [r async for r in client.iter_recipes()]
    projects = [p async for p in client.iter_projects()]
    first_page = await client.list_resources()

    assert [r.id for r in resources] == ["r0", "r1", "r2", "r3", "r4"]
    assert [r.id for r in recipes] == [f"rec{n}" for n in range(5)]
    assert [p.id for p in projects] == ["proj_emulator", "p2"]
    assert len(first_page.resources) == 2
    assert first_page.next
    assert (await client.get_resource("r3")).external_id == "ex-3"
    assert (await client.get_recipe("rec1")).name == "recipe 1"
    assert (await client.get_project("p2")).name == "second"


@pytest.mark.parametrize(
    ("call", "kind"),
    [("get_resource", "resource"), ("get_project", "project"), ("get_recipe", "recipe")],
)
async def test_get_of_an_unknown_id_is_404(client, call: str, kind: str):
    with pytest.raises(NotFoundError) as caught:
        await getattr(client, call)("nope")

    assert caught.value.error == f"{kind} 'nope' not found"


async def test_a_wrong_token_is_401_with_an_error_response(serving: Emulator):
    async with fast_client(serving, token="not-the-token") as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.next_task(APP, VERSION)

    assert caught.value.status_code == 401
    assert caught.value.attempts == 1
    assert caught.value.body == {"status": "error", "error": caught.value.error}
    assert "not-the-token" not in str(caught.value)
    assert serving.request_counts[("apps.operations.next", 401)] == 1


def test_the_sync_client_works_too(serving: Emulator):
    task_id = serving.enqueue_list(APP, VERSION, "example")

    with serving.sync_client() as client:
        task = client.next_task(APP, VERSION)
        client.report(TaskReport.ok(task_id, ListResourcesResponse(resources=[])))

    assert task is not None
    assert task.task_id == task_id
    assert serving.reported() == [task_id]
