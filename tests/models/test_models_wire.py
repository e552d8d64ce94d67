"""Wire models: tolerant reading, precise errors, strict writing, masked secrets."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pydantic
import pytest

from tempest_sdk import TempestError
from tempest_sdk.models import (
    AppHealthReportItem,
    ConnectRequest,
    EnvironmentVariable,
    EnvironmentVariableType,
    ExecuteResourceActionRequest,
    ExecuteResourceActionResponse,
    ExecuteResourceOperationRequest,
    ExecuteResourceOperationResponse,
    Link,
    LinkType,
    ListResourcesRequest,
    ListResourcesResponse,
    MalformedTaskError,
    Operation,
    ReportStatus,
    Resource,
    ResourceDefinition,
    StandardResponse,
    TaskReport,
    UnknownTaskTypeError,
    describe_errors,
    parse_task,
)
from tempest_sdk.models._base import WIRE_CONTEXT
from tests.client.cases import RESOURCE_ANSWER, TASK_ANSWERS, written

SECRET_VALUES = ["sk-live-SECRET", "-----BEGIN CERTIFICATE-----", "-----BEGIN PRIVATE KEY-----"]


# Tolerant reader ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TASK_ANSWERS))
@pytest.mark.parametrize("form", ["dict", "str", "bytes"])
def test_every_task_kind_round_trips_without_loss(name, form):
    answer = TASK_ANSWERS[name]
    raw: Any = {"dict": answer, "str": json.dumps(answer), "bytes": json.dumps(answer).encode()}
    task = parse_task(raw[form])
    assert task.to_wire() == written(answer)
    assert json.loads(task.to_json()) == written(answer)


def test_task_kinds_are_chosen_by_request_type():
    kinds = {name: type(parse_task(answer).task) for name, answer in TASK_ANSWERS.items()}
    assert kinds["create"] is ExecuteResourceOperationRequest
    assert kinds["action"] is ExecuteResourceActionRequest
    assert kinds["list-first"] is ListResourcesRequest
    operations = [parse_task(TASK_ANSWERS[op]).task.operation for op in ("create", "delete")]
    assert operations == [Operation.CREATE, Operation.DELETE]


def test_unknown_fields_are_kept_at_every_level():
    task = parse_task(TASK_ANSWERS["unknown-fields"])
    assert task.model_extra == {"priority": 3}
    assert task.task.model_extra == {"dry_run": False}
    assert task.task.resource.model_extra == {"region": "eu"}
    assert task.task.resource.links is not None
    assert task.task.resource.links.model_extra == {"pinned": True}
    assert task.metadata.model_extra == {"team_id": "team_9"}
    assert task.metadata.author.model_extra == {"avatar": "x"}


def test_unknown_fields_of_answers_are_kept():
    answer = {"status": "ok", "metadata": {"tempest_app_url": "u", "region": "eu"}, "trace": 1}
    parsed = StandardResponse.model_validate_json(json.dumps(answer), context=WIRE_CONTEXT)
    assert parsed.to_wire() == answer


def test_resource_answer_round_trips():
    resource = Resource.model_validate(RESOURCE_ANSWER, context=WIRE_CONTEXT)
    assert resource.to_wire() == written(RESOURCE_ANSWER)
    assert None in RESOURCE_ANSWER.values()  # so that the line above means something


def test_nulls_inside_free_form_objects_are_data_and_written():
    properties = {"replicas": None, "nested": {"owner": None}, "list": [None, {"x": None}]}
    resource = Resource(type="t", external_id="e", display_name="d", properties=properties)
    assert resource.to_wire()["properties"] == properties
    assert json.loads(resource.to_json())["properties"] == properties
    output = ExecuteResourceActionResponse(output={"build": None})
    assert json.loads(TaskReport.ok("t-1", output).to_json())["response"]["output"] == {
        "build": None
    }


def test_operation_task_without_input_or_environment_is_fine():
    answer = copy.deepcopy(TASK_ANSWERS["read"])
    del answer["task"]["input"]
    del answer["task"]["environment_variables"]
    task = parse_task(answer)
    assert task.task.input is None
    assert task.task.environment_variables is None
    assert task.to_wire() == answer


# Errors name the field path ------------------------------------------------------------


def _broken(name: str, edit: Any) -> dict[str, Any]:
    answer = copy.deepcopy(TASK_ANSWERS[name])
    edit(answer)
    return answer


@pytest.mark.parametrize(
    ("answer", "path"),
    [
        (_broken("create", lambda a: a["task"].pop("resource")), "resource: Field required"),
        (
            _broken("create", lambda a: a["task"]["resource"].pop("external_id")),
            "resource.external_id: Field required",
        ),
        (_broken("create", lambda a: a["metadata"].pop("author")), "metadata.author: Field req"),
        (_broken("list-next", lambda a: a["task"].pop("next")), "next: Field required"),
        (_broken("action", lambda a: a["task"].pop("action")), "action: Field required"),
        (
            _broken("create", lambda a: a["task"].update(operation="destroy")),
            "execute_resource_operation.operation: unknown operation 'destroy'; input should be",
        ),
        (
            _broken("create", lambda a: a["task"]["environment_variables"][1].update(type="pw")),
            "environment_variables.1.type: Input should be 'variable'",
        ),
        (
            _broken("create", lambda a: a["metadata"]["author"].update(type="robot")),
            "metadata.author.type: Input should be 'user' or 'team'",
        ),
    ],
    ids=[
        "no-resource",
        "no-external-id",
        "no-author",
        "no-next",
        "no-action",
        "bad-operation",
        "bad-env-type",
        "bad-owner-type",
    ],
)
def test_malformed_task_names_the_field_path(answer, path):
    with pytest.raises(MalformedTaskError) as caught:
        parse_task(answer)
    assert path in str(caught.value)
    assert caught.value.task_id == answer["task_id"]
    assert isinstance(caught.value, TempestError)
    assert not isinstance(caught.value, UnknownTaskTypeError)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1]", "{}", {"task_id": 7}])
def test_unreadable_answers_are_malformed_without_a_task_id(raw):
    with pytest.raises(MalformedTaskError) as caught:
        parse_task(raw)
    assert caught.value.task_id is None


@pytest.mark.parametrize("depth", [300, 1_000, 100_000])
def test_a_task_nested_too_deep_is_malformed_with_its_task_id(depth):
    """Deeper than pydantic or Python's json module go: still a MalformedTaskError that
    names the task, so the runner reports it instead of losing it."""
    answer = {**TASK_ANSWERS["create"], "task_id": 'task-"deep', "task": {"input": "X"}}
    deep = '{"a":' * depth + "{}" + "}" * depth
    with pytest.raises(MalformedTaskError) as caught:
        parse_task(json.dumps(answer).replace('"X"', deep))
    assert caught.value.task_id == 'task-"deep'


@pytest.mark.parametrize(
    ("raw", "task_id"),
    [
        ('{"task": {"task_id": "inner"}, "task_id": "outer"}', "outer"),
        ('{"a": ["task_id", {"task_id": "x"}], "b": "task_id", "task_id": "t"}', "t"),
        ('{"text": "{\\"task_id\\": \\"no\\"}"}', None),
        ('{"task_id": 5}', None),
    ],
)
def test_the_deep_fallback_reads_only_the_top_level_task_id(raw, task_id):
    from tempest_sdk.models._tasks import _top_level_task_id

    assert _top_level_task_id(raw).get("task_id") == task_id


def test_errors_never_quote_values_that_may_be_secret():
    answer = _broken(
        "create",
        lambda a: a["task"]["environment_variables"][1].update(
            type="password", value={"nested": "sk-live-SECRET"}
        ),
    )
    with pytest.raises(MalformedTaskError) as caught:
        parse_task(answer)
    assert "environment_variables.1.value" in str(caught.value)
    for secret in SECRET_VALUES:
        assert secret not in str(caught.value)


def test_unknown_task_type_carries_task_id_and_request_type():
    answer = _broken("create", lambda a: a["task"].update(request_type="migrate_resource"))
    with pytest.raises(UnknownTaskTypeError) as caught:
        parse_task(answer)
    error = caught.value
    assert isinstance(error, MalformedTaskError)
    assert error.task_id == "task-create"
    assert error.request_type == "migrate_resource"
    assert "migrate_resource" in str(error)
    assert "list_resources" in str(error)


def test_describe_errors_lists_every_path_without_values():
    with pytest.raises(pydantic.ValidationError) as caught:
        ConnectRequest.model_validate({"app_id": "sk-live-SECRET", "version": 3})
    text = describe_errors(caught.value)
    assert text == "version: Input should be a valid string; resources: Field required"


def test_bad_enum_in_a_health_item_names_the_field():
    with pytest.raises(pydantic.ValidationError) as caught:
        AppHealthReportItem.model_validate({"type": "example", "status": "sick"})
    assert describe_errors(caught.value).startswith("status: Input should be 'healthy'")


def test_resource_is_strict_on_the_wire_and_lenient_in_python():
    assert Resource(display_name="x").to_wire() == {
        "type": "",
        "external_id": "",
        "display_name": "x",
    }
    with pytest.raises(pydantic.ValidationError) as caught:
        Resource.model_validate({"display_name": "x"}, context=WIRE_CONTEXT)
    assert describe_errors(caught.value) == "external_id: Field required; type: Field required"


# Secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k in EnvironmentVariableType if k.is_sensitive])
def test_sensitive_values_are_masked_everywhere_but_the_wire(kind, caplog):
    variable = EnvironmentVariable(name="KEY", value="v-SECRET", type=kind)
    dumped = variable.model_dump()
    logging.getLogger("tests").warning("%s %r %s", variable, variable, dumped)
    for shown in (repr(variable), str(variable), f"{variable}", repr(dumped), str(dumped)):
        assert "v-SECRET" not in shown
    assert "v-SECRET" not in caplog.text
    assert variable.is_sensitive
    assert variable.reveal() == "v-SECRET"
    # The wire is the one place the value goes in clear: the handler needs it.
    assert variable.to_wire() == {"name": "KEY", "value": "v-SECRET", "type": kind.value}


def test_plain_variables_are_shown():
    variable = EnvironmentVariable(name="REGION", value="eu-west-1", type="variable")
    assert not variable.is_sensitive
    assert "eu-west-1" in repr(variable)


def test_a_whole_task_never_shows_its_secrets():
    task = parse_task(TASK_ANSWERS["create"])
    shown = [repr(task), str(task), repr(task.model_dump()), repr(task.task)]
    for text in shown:
        for secret in SECRET_VALUES:
            assert secret not in text
    assert "eu-west-1" in repr(task)  # a plain variable stays readable


# Reports --------------------------------------------------------------------------------


def test_error_report_is_written_like_tempests_own_client():
    report = TaskReport.error("task-1", "the bucket already exists")
    assert json.loads(report.to_json()) == {
        "task_id": "task-1",
        "status": "error",
        "message": "the bucket already exists",
        "response": None,
    }
    assert list(report.to_wire()) == ["task_id", "status", "message", "response"]


@pytest.mark.parametrize(
    ("response", "response_type"),
    [
        (
            ExecuteResourceOperationResponse(
                resource=Resource(type="t", external_id="e", display_name="d")
            ),
            "execute_resource_operation",
        ),
        (ExecuteResourceActionResponse(output={"a": 1}), "execute_resource_action"),
        (ListResourcesResponse(resources=[]), "list_resources"),
    ],
)
def test_ok_reports_carry_their_response_type(response, response_type):
    wire = TaskReport.ok("task-1", response).to_wire()
    assert wire["status"] == "ok"
    assert "message" not in wire
    assert wire["response"]["response_type"] == response_type
    if response_type == "list_resources":
        assert wire["response"] == {"response_type": "list_resources", "resources": [], "next": ""}


def test_reports_read_back_into_the_same_objects():
    report = TaskReport.ok(
        "task-1", ExecuteResourceActionResponse(output={"build": 7}), message="done"
    )
    again = TaskReport.model_validate_json(report.to_json(), context=WIRE_CONTEXT)
    assert again == report
    assert again.status is ReportStatus.OK


# Writing --------------------------------------------------------------------------------


def test_links_go_out_wrapped_and_lowercase():
    resource = Resource(
        type="t", external_id="e", display_name="d", links=[Link.external("https://x", "X")]
    )
    assert resource.to_wire()["links"] == {
        "links": [{"title": "X", "url": "https://x", "type": "external"}]
    }
    assert [t.value for t in LinkType] == [t.value.lower() for t in LinkType]


def test_resource_definition_always_writes_its_required_flags():
    definition = ResourceDefinition(
        type="t", display_name="T", description="A t.", lifecycle_stage="code"
    )
    assert definition.to_wire() == {
        "type": "t",
        "display_name": "T",
        "description": "A t.",
        "lifecycle_stage": "code",
        "list_supported": False,
        "read_supported": False,
        "create_supported": False,
        "update_supported": False,
        "delete_supported": False,
        "healthcheck_supported": False,
    }


def test_unknown_lifecycle_stage_is_accepted():
    definition = ResourceDefinition.model_validate(
        {"type": "t", "display_name": "T", "description": "d", "lifecycle_stage": "dream"},
        context=WIRE_CONTEXT,
    )
    assert definition.lifecycle_stage == "dream"


def test_a_wire_model_writes_its_defaults_and_never_a_null():
    """Fields with defaults go out although never given; None values never do."""
    from typing import Literal

    from tempest_sdk.models._base import WireModel

    class Kinded(WireModel):
        kind: Literal["x"] = "x"
        count: int = 0
        note: str | None = None

    assert Kinded().to_wire() == {"kind": "x", "count": 0}
    assert Kinded(note=None, extra=None).to_wire() == {"kind": "x", "count": 0}
    assert json.loads(Kinded(note="n").to_json()) == {"kind": "x", "count": 0, "note": "n"}
    assert Kinded._always_written == {"kind", "count"}
    # A failed report is the exception: `response` is required, and null there.
    assert TaskReport.error("t-1", "boom").to_wire()["response"] is None
    assert b'"response":null' in TaskReport.error("t-1", "boom").to_json()


def test_an_unknown_operation_is_named() -> None:
    """Go's toolkit names the operation it does not support; so does the SDK."""
    from tempest_sdk.models import MalformedTaskError, parse_task

    owner = {"email": "a@example.com", "name": "A", "type": "user"}
    task = {
        "task_id": "t1",
        "task": {
            "request_type": "execute_resource_operation",
            "operation": "archive",
            "resource": {"type": "x", "external_id": "e", "display_name": "d"},
        },
        "metadata": {"owners": [owner], "author": owner, "project_id": "p", "project_name": "P"},
    }
    with pytest.raises(MalformedTaskError) as caught:
        parse_task(task)
    assert "operation: unknown operation 'archive'; input should be 'create'" in str(caught.value)


def test_a_report_reads_typed_in_tests() -> None:
    """message is always a str; a page has its cursor; the text form beside the bytes."""
    from tempest_sdk.models import Resource, TaskReport

    page = TaskReport.of_page("t1", [Resource(type="x", external_id="e", display_name="d")], "p2")
    assert page.message == "" and page.next_cursor == "p2"
    assert "message" not in page.to_wire()  # written only when it says something
    assert '"next":"p2"' in page.text and page.text.encode() == page.to_json()
    last = TaskReport.of_page("t2", [])
    assert last.next_cursor == ""
    failed = TaskReport.error("t3", "conflict: taken")
    assert "conflict" in failed.message and failed.to_wire()["message"] == "conflict: taken"
    with pytest.raises(ValueError, match="failed: conflict: taken"):
        _ = failed.next_cursor
    with pytest.raises(ValueError, match="is not a list's"):
        _ = TaskReport.of_output("t4", {}).next_cursor
