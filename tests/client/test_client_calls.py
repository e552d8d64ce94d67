"""Every method: what it sends, how it reads the answer, and pagination."""

from __future__ import annotations

import json

import httpx
import pytest

from tempest_sdk.client import APIResponseValidationError, InternalServerError
from tempest_sdk.models import (
    ExecuteResourceOperationRequest,
    ListProjectsResponse,
    ListRecipesResponse,
    ListResourcesResponse,
    MalformedTaskError,
    Operation,
    Project,
    Recipe,
    Resource,
    StandardResponse,
    Task,
    UnknownTaskTypeError,
)

from .cases import (
    CASE_IDS,
    CASES,
    PROJECT_ANSWER,
    RECIPE_ANSWER,
    RESOURCE_ANSWER,
    TASK_ANSWERS,
    written,
)
from .conftest import TOKEN

RESULT_TYPES = {
    "connect_app_version": StandardResponse,
    "next_task": Task,
    "report": StandardResponse,
    "report_health": StandardResponse,
    "get_resource": Resource,
    "list_resources": ListResourcesResponse,
    "get_project": Project,
    "list_projects": ListProjectsResponse,
    "get_recipe": Recipe,
    "list_recipes": ListRecipesResponse,
}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_each_method_posts_its_body_and_parses_the_answer(flavour, client, router, case):
    route = router.post(case.endpoint).respond(200, json=case.answer)

    result = await flavour.call(client, case.method, *case.args)

    assert isinstance(result, RESULT_TYPES[case.method])
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert json.loads(request.content) == case.sent
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    # Everything the server said was read, and is written back (its nulls as absent).
    assert result.to_wire() == written(case.answer)


async def test_next_task_returns_none_on_204(flavour, client, router):
    router.post("/apps.operations.next").respond(204)
    assert await flavour.call(client, "next_task", "helloworld", "v1") is None


async def test_next_task_parses_the_task(flavour, client, router):
    router.post("/apps.operations.next").respond(200, json=TASK_ANSWERS["create"])
    task = await flavour.call(client, "next_task", "helloworld", "v1")
    assert task.task_id == "task-create"
    assert isinstance(task.task, ExecuteResourceOperationRequest)
    assert task.task.operation is Operation.CREATE


async def test_next_task_lets_malformed_task_errors_through(flavour, client, router):
    bad = {**TASK_ANSWERS["create"], "metadata": {"owners": []}}
    router.post("/apps.operations.next").respond(200, json=bad)
    with pytest.raises(MalformedTaskError) as caught:
        await flavour.call(client, "next_task", "helloworld", "v1")
    assert caught.value.task_id == "task-create"
    assert "metadata.author" in str(caught.value)


async def test_next_task_lets_unknown_task_types_through(flavour, client, router):
    answer = {**TASK_ANSWERS["create"], "task": {"request_type": "migrate_resource"}}
    router.post("/apps.operations.next").respond(200, json=answer)
    with pytest.raises(UnknownTaskTypeError) as caught:
        await flavour.call(client, "next_task", "helloworld", "v1")
    assert caught.value.task_id == "task-create"
    assert caught.value.request_type == "migrate_resource"


@pytest.mark.parametrize("method", ["list_resources", "list_projects", "list_recipes"])
async def test_list_sends_the_cursor_only_when_given(flavour, client, router, method):
    endpoint = "/" + method.replace("list_", "") + ".list"
    key = method.replace("list_", "")
    route = router.post(endpoint).respond(200, json={key: [], "next": ""})

    await flavour.call(client, method)
    await flavour.call(client, method, "")
    await flavour.call(client, method, "cursor-2")
    await flavour.call(client, method, next="cursor-3")

    sent = [json.loads(call.request.content) for call in route.calls]
    assert sent == [{}, {}, {"next": "cursor-2"}, {"next": "cursor-3"}]


ITERATIONS = [
    ("iter_resources", "/resources.list", "resources", RESOURCE_ANSWER, "external_id"),
    ("iter_projects", "/projects.list", "projects", PROJECT_ANSWER, "id"),
    ("iter_recipes", "/recipes.list", "recipes", RECIPE_ANSWER, "id"),
]


@pytest.mark.parametrize(
    ("method", "endpoint", "key", "item", "field"), ITERATIONS, ids=[i[0] for i in ITERATIONS]
)
async def test_iter_walks_every_page(flavour, client, router, method, endpoint, key, item, field):
    def page(request: httpx.Request) -> httpx.Response:
        cursor = json.loads(request.content).get("next")
        number = {None: 1, "p2": 2, "p3": 3}[cursor]
        items = [{**item, field: f"{key}-{number}-{i}"} for i in range(2)]
        return httpx.Response(
            200, json={key: items, "next": f"p{number + 1}" if number < 3 else ""}
        )

    route = router.post(endpoint).mock(side_effect=page)

    items = await flavour.collect(getattr(client, method)())

    assert [getattr(i, field) for i in items] == [
        f"{key}-{n}-{i}" for n in (1, 2, 3) for i in range(2)
    ]
    assert [json.loads(c.request.content) for c in route.calls] == [
        {},
        {"next": "p2"},
        {"next": "p3"},
    ]


async def test_iter_stops_at_a_cursor_seen_before(flavour, client, router):
    answers = [
        httpx.Response(200, json={"resources": [RESOURCE_ANSWER], "next": "a"}),
        httpx.Response(200, json={"resources": [RESOURCE_ANSWER], "next": "b"}),
        httpx.Response(200, json={"resources": [RESOURCE_ANSWER], "next": "a"}),
    ]
    router.post("/resources.list").mock(side_effect=answers)
    with pytest.raises(APIResponseValidationError, match=r"/resources\.list.*'a' twice"):
        await flavour.collect(client.iter_resources())


async def test_iter_passes_per_call_options_to_every_page(flavour, client, router):
    route = router.post("/recipes.list").mock(
        side_effect=[
            httpx.Response(200, json={"recipes": [RECIPE_ANSWER], "next": "p2"}),
            httpx.Response(200, json={"recipes": [], "next": ""}),
        ]
    )
    await flavour.collect(client.iter_recipes(timeout=3.0))
    assert [c.request.extensions["timeout"]["read"] for c in route.calls] == [3.0, 3.0]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"type": "example", "external_id": "x"}, "display_name"),
        (
            {**RESOURCE_ANSWER, "links": {"links": [{"title": "t", "url": "u", "type": "LINK"}]}},
            "links.links.0.type",
        ),
        ({**RESOURCE_ANSWER, "created_at": "yesterday"}, "created_at"),
    ],
    ids=["missing", "bad-link-type", "bad-date"],
)
async def test_unreadable_answer_names_endpoint_and_field(flavour, client, router, body, path):
    router.post("/resources.get").respond(200, json=body)
    with pytest.raises(APIResponseValidationError) as caught:
        await flavour.call(client, "get_resource", "res_01")
    error = caught.value
    assert error.endpoint == "/resources.get"
    assert error.status_code == 200
    assert error.body == body
    assert "/resources.get" in str(error)
    assert f"{path}:" in str(error)
    assert error.__cause__ is None  # no raw pydantic traceback chained in


async def test_non_json_success_is_a_clear_error(flavour, client, router):
    router.post("/apps.versions.health").respond(200, text="<html>proxy login</html>")
    with pytest.raises(APIResponseValidationError, match=r"apps\.versions\.health.*Invalid JSON"):
        await flavour.call(client, "report_health", CASES[3].args[0])


async def test_bad_enum_in_answer_names_the_field(flavour, client, router):
    router.post("/apps.version.connect").respond(200, json={"status": "maybe"})
    with pytest.raises(APIResponseValidationError, match=r"status: Input should be 'ok' or"):
        await flavour.call(client, "connect_app_version", CASES[0].args[0])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_every_method_takes_per_call_timeout_and_retries(flavour, client, router, case):
    route = router.post(case.endpoint).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=case.answer)]
    )
    with pytest.raises(InternalServerError):
        await flavour.call(client, case.method, *case.args, timeout=1.5, max_retries=0)
    assert route.calls.last.request.extensions["timeout"]["read"] == 1.5
    assert flavour.sleeps == []
