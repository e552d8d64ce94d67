"""What the client sends and reads, checked against the contract's own schemas.

The schemas are `contract_schemas.json` beside this file: the contract's
`components.schemas` (and connect body) as JSON Schema draft-07, written by
`generate_schemas.py`. These tests need neither PyYAML nor the contract file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import respx

from tempest_sdk.client import TempestClient
from tempest_sdk.models import (
    ListProjectsResponse,
    ListRecipesResponse,
    ListResourcesResponse,
    Project,
    Recipe,
    Resource,
    StandardResponse,
    TaskReport,
    parse_task,
)
from tempest_sdk.models._base import WIRE_CONTEXT
from tests.client.cases import (
    CASE_IDS,
    CASES,
    CONNECT,
    HEALTH,
    PROJECT_ANSWER,
    RECIPE_ANSWER,
    REPORTS,
    RESOURCE_ANSWER,
    STANDARD_OK,
    TASK_ANSWERS,
    written,
)

HERE = Path(__file__).resolve().parent
SCHEMAS: dict[str, Any] = json.loads((HERE / "contract_schemas.json").read_text("utf-8"))
ENDPOINTS: dict[str, Any] = SCHEMAS["x-endpoints"]
ENDPOINT = "http://127.0.0.1:9/api/v1"


@cache
def validator(name: str) -> jsonschema.Draft7Validator:
    """A validator of the contract schema `name`, resolving refs inside the document."""
    schema = {
        "$schema": SCHEMAS["$schema"],
        "definitions": SCHEMAS["definitions"],
        "allOf": [{"$ref": f"#/definitions/{name}"}],
    }
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def assert_valid(name: str, instance: Any) -> None:
    """Fail with every violation, each with its path, when `instance` is not a `name`."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
    assert not problems, f"not a valid {name}:\n" + "\n".join(problems)


def test_the_schema_document_is_valid_draft_07():
    jsonschema.Draft7Validator.check_schema(SCHEMAS)
    for name in SCHEMAS["definitions"]:
        jsonschema.Draft7Validator.check_schema(SCHEMAS["definitions"][name])


def test_every_endpoint_has_a_client_method():
    assert {case.endpoint for case in CASES} == set(ENDPOINTS)


# Requests --------------------------------------------------------------------------------

# Every body a client method can send: one per case, plus every report kind and pages.
SENDS: list[tuple[str, str, tuple[Any, ...]]] = [
    *[(case.id, case.method, case.args) for case in CASES],
    *[(f"report-{name}", "report", (report,)) for name, report in REPORTS.items()],
    ("list_resources-next", "list_resources", ("cursor-2",)),
    ("list_projects-next", "list_projects", ("cursor-2",)),
    ("list_recipes-next", "list_recipes", ("cursor-2",)),
    ("report_health-empty", "report_health", (HEALTH.model_copy(update={"health_reports": []}),)),
]


@pytest.mark.parametrize(("method", "args"), [s[1:] for s in SENDS], ids=[s[0] for s in SENDS])
def test_every_body_the_client_sends_matches_the_contract(method, args):
    router = respx.MockRouter(base_url=ENDPOINT, assert_all_called=False)
    answers = {case.endpoint: case.answer for case in CASES}
    for path, answer in answers.items():
        router.post(path).respond(200, json=answer)
    with TempestClient(
        "token", endpoint=ENDPOINT, transport=httpx.MockTransport(router.handler)
    ) as client:
        getattr(client, method)(*args)

    (call,) = router.calls
    path = call.request.url.path.removeprefix("/api/v1")
    assert_valid(ENDPOINTS[path]["request"], json.loads(call.request.content))


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_kind_is_a_report_response(name):
    assert_valid("ReportResponse", REPORTS[name].to_wire())


def test_connect_and_health_bodies_match_the_contract():
    assert_valid("ConnectRequest", CONNECT.to_wire())
    assert_valid("AppHealthReportRequest", HEALTH.to_wire())


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        (
            "ReportResponse",
            {
                "task_id": "t",
                "status": "ok",
                "response": {"response_type": "execute_resource_action", "resource": {}},
            },
        ),
        ("ReportResponse", {"task_id": "t", "status": "ok"}),
        ("ReportResponse", {"task_id": "t", "status": "done", "response": None}),
        ("LinksItem", {"title": "t", "url": "https://x", "type": "LINK_TYPE_EXTERNAL"}),
        ("Resource", {"type": "t", "external_id": "e", "display_name": "d", "links": []}),
        ("RequestObjectById", {"id": "x", "extra": 1}),
        ("NextResponse", {**TASK_ANSWERS["create"], "task": {"request_type": "other"}}),
    ],
    ids=[
        "response-type-mismatch",
        "response-missing",
        "bad-status",
        "link-type-case",
        "links-not-wrapped",
        "extra-field-forbidden",
        "unknown-request-type",
    ],
)
def test_the_translated_schemas_still_reject_what_the_contract_rejects(name, instance):
    assert not validator(name).is_valid(instance)


def test_nullable_fields_accept_null():
    assert_valid("Resource", {**RESOURCE_ANSWER, "links": None, "properties": None})
    assert_valid("RequestPaginatedObjects", {"next": None})
    assert_valid("StandardResponse", {"status": "error", "error": None})


# Answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TASK_ANSWERS))
def test_every_task_kind_is_a_next_response_and_round_trips(name):
    answer = TASK_ANSWERS[name]
    assert_valid("NextResponse", answer)
    task = parse_task(json.dumps(answer))
    assert task.to_wire() == written(answer)
    assert json.loads(task.to_json()) == written(answer)
    assert_valid("NextResponse", task.to_wire())


ANSWERS: list[tuple[str, type[Any], dict[str, Any]]] = [
    ("StandardResponse", StandardResponse, STANDARD_OK),
    ("StandardResponse", StandardResponse, {"status": "ok", "future": {"x": 1}}),
    ("Resource", Resource, RESOURCE_ANSWER),
    ("Resource", Resource, {**RESOURCE_ANSWER, "region": "eu", "links": {"links": []}}),
    (
        "ListResourcesResponse",
        ListResourcesResponse,
        {"response_type": "list_resources", "resources": [RESOURCE_ANSWER], "next": "c2"},
    ),
    ("Project", Project, PROJECT_ANSWER),
    ("Project", Project, {**PROJECT_ANSWER, "archived": False}),
    ("ListProjectsResponse", ListProjectsResponse, {"projects": [PROJECT_ANSWER], "next": "c2"}),
    ("Recipe", Recipe, RECIPE_ANSWER),
    ("ListRecipesResponse", ListRecipesResponse, {"recipes": [RECIPE_ANSWER], "next": ""}),
]


@pytest.mark.parametrize(
    ("schema", "model", "answer"), ANSWERS, ids=[f"{a[0]}-{i}" for i, a in enumerate(ANSWERS)]
)
def test_sample_answers_are_valid_and_round_trip(schema, model, answer):
    assert_valid(schema, answer)
    parsed = model.model_validate_json(json.dumps(answer), context=WIRE_CONTEXT)
    assert parsed.to_wire() == written(answer)
    assert_valid(schema, parsed.to_wire())


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_answers_used_in_client_tests_match_the_contract(case):
    assert_valid(ENDPOINTS[case.endpoint]["responses"]["200"], case.answer)


def test_error_answers_match_the_contract():
    assert_valid("ErrorResponse", {"status": "error", "error": "task not found"})


def test_error_report_carries_a_null_response():
    report = TaskReport.error("task-1", "boom")
    assert report.to_wire()["response"] is None
    assert_valid("ReportResponse", report.to_wire())


# The copy stays in step with the contract -----------------------------------------------


def test_the_schema_copy_matches_the_contract():
    yaml = pytest.importorskip("yaml", reason="PyYAML regenerates the copy (dev only)")
    del yaml
    from tests.contract import generate_schemas

    contract = generate_schemas.DEFAULT_CONTRACT
    if not contract.is_file():
        pytest.skip(f"the contract is not at {contract}")
    assert generate_schemas.render(contract) == (HERE / "contract_schemas.json").read_text(
        "utf-8"
    ), "contract_schemas.json is stale: run python tests/contract/generate_schemas.py"
