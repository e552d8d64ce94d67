"""`dispatch(task) -> report`: every rule, and parity with Tempest's Go SDK.

Go references are to tempestdx/sdk-go, `app/rpc.go` (`ExecuteResourceOperation`,
`ListResources`, `ExecuteResourceAction`) and `app/json_schema.go` (`injectDefaults`).
"""

from __future__ import annotations

import datetime
import logging
import threading
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, ConfigDict, Field

import tempest_sdk as tempest
from tempest_sdk.models import Task, parse_task

from .conftest import (
    METADATA,
    action_task,
    assert_report,
    go_fixture,
    list_task,
    operation_task,
    resource_dict,
)


class Props(BaseModel):
    color: str = Field(title="Color")


class Color(BaseModel):
    model_config = ConfigDict(extra="forbid")

    color: str = Field("red", title="Color")


class Paint(BaseModel):
    color: str
    coats: int = Field(1, ge=1, le=3)


class PaintResult(BaseModel):
    coats: int
    note: str | None = None


def build_app() -> tuple[tempest.App, tempest.ResourceType, dict[str, str]]:
    """A helloworld-like app over an in-memory store."""
    app = tempest.App("helloworld", "v1")
    example = app.resource("example", properties=Props)
    store: dict[str, str] = {"ex-1": "green"}

    @example.create
    async def create(ctx: tempest.Context, input: Color) -> tempest.Resource:
        store["ex-2"] = input.color
        return tempest.Resource(
            external_id="ex-2", display_name="Two", properties={"color": input.color}
        )

    @example.read
    async def read(resource: tempest.Resource) -> tempest.Resource:
        if resource.external_id not in store:
            raise tempest.ResourceNotFoundError()
        return tempest.Resource(
            display_name="One", properties={"color": store[resource.external_id]}
        )

    @example.update
    def update(resource: tempest.Resource, input: Color) -> tempest.Resource:
        store[resource.external_id] = input.color
        return tempest.Resource(properties={"color": input.color})

    @example.delete
    async def delete(resource: tempest.Resource) -> None:
        store.pop(resource.external_id, None)

    @example.list
    async def list_all(cursor: str) -> tempest.Page:
        items = [
            tempest.Resource(external_id=k, display_name=k, properties={"color": v})
            for k, v in store.items()
        ]
        return tempest.Page(resources=items, next="" if cursor else "page-2")

    @example.action("paint", display_name="Paint")
    async def paint(resource: tempest.Resource, input: Paint) -> PaintResult:
        store[resource.external_id] = input.color
        return PaintResult(coats=input.coats)

    return app, example, store


@pytest.fixture
def app() -> tempest.App:
    return build_app()[0]


# -- the happy paths ----------------------------------------------------------------------


async def test_create(app: tempest.App) -> None:
    report = assert_report(await app.dispatch(operation_task("create", input={"color": "blue"})))
    assert report == {
        "task_id": "task-1",
        "status": "ok",
        "response": {
            "response_type": "execute_resource_operation",
            "resource": {
                "type": "example",
                "external_id": "ex-2",
                "display_name": "Two",
                "properties": {"color": "blue"},
            },
        },
    }


async def test_read_fills_in_type_and_external_id_from_the_task(app: tempest.App) -> None:
    report = assert_report(await app.dispatch(operation_task("read", external_id="ex-1")))
    resource = report["response"]["resource"]
    assert (resource["type"], resource["external_id"]) == ("example", "ex-1")
    assert resource["properties"] == {"color": "green"}


async def test_update_in_a_worker_thread(app: tempest.App) -> None:
    report = assert_report(
        await app.dispatch(operation_task("update", external_id="ex-1", input={"color": "navy"}))
    )
    assert report["response"]["resource"]["properties"] == {"color": "navy"}


async def test_display_name_is_filled_from_the_task() -> None:
    app, _, _ = build_app()
    task = operation_task(
        "update", input={}, resource=resource_dict("example", "ex-1", display_name="Mine")
    )
    report = assert_report(await app.dispatch(task))
    assert report["response"]["resource"]["display_name"] == "Mine"


async def test_delete_without_result_reports_the_tasks_resource(app: tempest.App) -> None:
    """The contract needs a resource in a delete's report; Go's delete returns one too."""
    task = operation_task(
        "delete", resource=resource_dict("example", "ex-1", display_name="One", id="r-9")
    )
    report = assert_report(await app.dispatch(task))
    assert report["response"]["resource"] == {
        "type": "example",
        "external_id": "ex-1",
        "display_name": "One",
        "id": "r-9",
    }


async def test_list(app: tempest.App) -> None:
    report = assert_report(await app.dispatch(list_task()))
    assert report["response"] == {
        "response_type": "list_resources",
        "resources": [
            {
                "type": "example",
                "external_id": "ex-1",
                "display_name": "ex-1",
                "properties": {"color": "green"},
            }
        ],
        "next": "page-2",
    }
    report = assert_report(await app.dispatch(list_task(next="page-2")))
    assert report["response"]["next"] == ""


async def test_list_may_return_a_plain_list() -> None:
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)

    @example.list
    def list_all(cursor: str) -> list[tempest.Resource]:
        return [tempest.Resource(external_id="a", properties={"color": "c"})]

    report = assert_report(await app.dispatch(list_task()))
    assert report["response"]["next"] == ""
    assert report["response"]["resources"][0]["type"] == "example"


async def test_action(app: tempest.App) -> None:
    """Go's CLI never runs action tasks; the SDK's `ExecuteResourceAction` path, here, does."""
    report = assert_report(
        await app.dispatch(action_task("paint", input={"color": "red", "coats": 2}))
    )
    assert report["response"] == {
        "response_type": "execute_resource_action",
        "output": {"coats": 2},
    }


# -- what the task asks for that the app does not have ------------------------------------


async def test_unknown_resource_type_names_the_apps_types(app: tempest.App) -> None:
    """Mirrors Go: `resource type %s not found` (CodeNotFound) becomes an error report."""
    report = assert_report(
        await app.dispatch(operation_task("read", type="bucket", external_id="b"))
    )
    assert report["message"] == (
        "resource type 'bucket' is not part of app helloworld v1; its resource types: 'example'"
    )
    for task in (list_task(type="bucket"), action_task("paint", type="bucket")):
        assert "'bucket' is not part of app" in assert_report(await app.dispatch(task))["message"]


async def test_unsupported_operation_names_what_is_supported() -> None:
    """Mirrors Go: `operation %s not supported for resource type %s`."""
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)
    example.read(lambda: None)

    @example.action("paint")
    def paint() -> dict[str, Any]:
        return {}

    report = assert_report(await app.dispatch(operation_task("create")))
    assert report["message"] == (
        "resource type 'example' does not support create; it supports: read, actions 'paint'"
    )


async def test_unsupported_list() -> None:
    """Mirrors Go `ListResources`: `list operation not supported for resource type %s`."""
    app = tempest.App("hello", "v1")
    app.resource("example")
    report = assert_report(await app.dispatch(list_task()))
    assert report["message"] == (
        "resource type 'example' does not support list; "
        "it supports: nothing yet (no handler is registered)"
    )


async def test_unknown_action_lists_the_actions(app: tempest.App) -> None:
    """Mirrors Go: `action %s not found for resource type %s`."""
    report = assert_report(await app.dispatch(action_task("polish")))
    assert (
        report["message"] == "resource type 'example' has no action 'polish'; its actions: 'paint'"
    )


@pytest.mark.parametrize("operation", ["read", "update", "delete"])
async def test_external_id_is_required(app: tempest.App, operation: str) -> None:
    """Mirrors Go: `external ID is required for read/update/delete operation`."""
    report = assert_report(await app.dispatch(operation_task(operation, input={})))
    assert report["message"] == (
        f"{operation} of 'example' needs the resource's external_id, "
        "and the task's resource has none"
    )


# -- input --------------------------------------------------------------------------------


async def test_input_is_checked_as_the_published_schema_says() -> None:
    """A model that populates by name and forbids extras publishes its aliases and
    `additionalProperties: false`: its field names are refused, as Tempest would."""
    from pydantic import BaseModel, ConfigDict, Field

    class FlagIn(BaseModel):
        model_config = ConfigDict(populate_by_name=True, extra="forbid")
        default_enabled: bool = Field(False, alias="defaultEnabled")

    app = tempest.App("flags", "v1")
    flag = app.resource("flag", description="A flag.", properties={"type": "object"})
    got: list[FlagIn] = []

    @flag.create
    async def create(input: FlagIn) -> tempest.Resource:
        got.append(input)
        return tempest.Resource(external_id="f1")

    schema = flag.definition().create_input_schema or {}
    assert list(schema["properties"]) == ["defaultEnabled"]
    assert schema["additionalProperties"] is False
    refused = assert_report(
        await app.dispatch(operation_task("create", type="flag", input={"default_enabled": True}))
    )
    assert refused["message"] == (
        "invalid input for create of 'flag': default_enabled: is not allowed "
        "(the schema has no such field)"
    )
    assert got == []
    assert_report(
        await app.dispatch(operation_task("create", type="flag", input={"defaultEnabled": True}))
    )
    assert got[0].default_enabled is True


async def test_missing_input_is_an_empty_object_and_defaults_apply(app: tempest.App) -> None:
    """Go's CLI crashes on an operation task without `input`; Go's SDK injects defaults."""
    report = assert_report(await app.dispatch(operation_task("create")))
    assert report["response"]["resource"]["properties"] == {"color": "red"}


async def test_invalid_input_lists_every_field_with_path_and_reason(app: tempest.App) -> None:
    """Mirrors Go: `validate create input: jsonschema validation failed` with every error."""
    report = assert_report(await app.dispatch(action_task("paint", input={"coats": 7, "extra": 1})))
    # Checked against the published schema first, as Tempest checks it.
    assert report["message"] == (
        "invalid input for action 'paint' of 'example': coats: must be at most 3; "
        "color: is required"
    )
    report = assert_report(
        await app.dispatch(operation_task("create", input={"color": 3, "size": 1}))
    )
    assert report["message"] == (
        "invalid input for create of 'example': color: must be string, not integer; "
        "size: is not allowed (the schema has no such field)"
    )


def raw_app() -> tuple[tempest.App, list[Any]]:
    """The Go helloworld schemas, raw."""
    seen: list[Any] = []
    app = tempest.App("helloworld", "v1")
    example = app.resource("example", properties=go_fixture("helloworld/properties.json"))

    @example.create(input_schema=tempest.JSONSchema(go_fixture("helloworld/input.json")))
    async def create(input: dict[str, Any]) -> tempest.Resource:
        seen.append(input)
        return tempest.Resource(external_id="x", display_name="X", properties=dict(input))

    @example.action(
        "check",
        input_schema={
            "type": "object",
            "properties": {
                "level": {"type": "integer", "minimum": 1, "default": 2},
                "mode": {"enum": ["fast", "slow"], "default": "fast"},
                "tags": {"type": "array", "items": {"type": "string"}, "default": []},
            },
            "required": ["level"],
        },
        output_schema={
            "type": "object",
            "properties": {"ok": {"type": "boolean"}},
            "required": ["ok"],
        },
    )
    async def check(input: dict[str, Any]) -> dict[str, Any]:
        seen.append(input)
        return input.get("answer", {"ok": True})

    return app, seen


async def test_raw_schema_defaults_are_injected_before_validation() -> None:
    """Mirrors Go `injectDefaults` + `Validate`: top-level defaults fill absent keys first."""
    app, seen = raw_app()
    assert_report(await app.dispatch(operation_task("create", input={})))
    assert seen == [{"color": "red"}]
    assert_report(await app.dispatch(action_task("check", input={})))
    assert seen[-1] == {"level": 2, "mode": "fast", "tags": []}
    # a default object is copied, never shared between tasks
    seen[-1]["tags"].append("x")
    assert_report(await app.dispatch(action_task("check", input={})))
    assert seen[-1]["tags"] == []


async def test_raw_schema_input_errors() -> None:
    app, seen = raw_app()
    report = assert_report(
        await app.dispatch(operation_task("create", input={"color": 7, "shade": "x"}))
    )
    assert report["message"] == (
        "invalid input for create of 'example': color: must be string, not integer; "
        "shade: is not allowed (the schema has no such field)"
    )
    report = assert_report(
        await app.dispatch(action_task("check", input={"level": 0, "mode": "warp", "tags": [1]}))
    )
    assert report["message"] == (
        "invalid input for action 'check' of 'example': level: must be at least 1; "
        'mode: must be one of "fast", "slow"; tags[0]: must be string, not integer'
    )
    assert seen == []


async def test_input_errors_never_show_the_values() -> None:
    app, _ = raw_app()
    report = assert_report(
        await app.dispatch(operation_task("create", input={"color": ["hunter2"]}))
    )
    assert "hunter2" not in report["message"]


# -- handler errors -----------------------------------------------------------------------


def failing_app(exc: BaseException, sync: bool = False) -> tempest.App:
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)

    if sync:

        def read(resource: tempest.Resource) -> tempest.Resource:
            raise exc

        example.read(read)
    else:

        async def aread(resource: tempest.Resource) -> tempest.Resource:
            raise exc

        example.read(aread)
    return app


@pytest.mark.parametrize("sync", [False, True])
async def test_handler_exception_becomes_an_error_report(
    sync: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Mirrors Go: `read resource: <err>`; the traceback goes to the log, not to Tempest."""
    app = failing_app(ValueError("the API said no"), sync=sync)
    with caplog.at_level(logging.ERROR, logger="tempest_sdk.app"):
        report = assert_report(await app.dispatch(operation_task("read", external_id="x")))
    assert report["message"] == "read of 'example' failed: ValueError: the API said no"
    assert "Traceback" not in report["message"]
    assert "Traceback (most recent call last)" in caplog.text
    assert "the API said no" in caplog.text
    assert caplog.records[0].task_id == "task-1"  # type: ignore[attr-defined]


async def test_exception_without_message() -> None:
    report = assert_report(
        await failing_app(KeyError()).dispatch(operation_task("read", external_id="x"))
    )
    assert report["message"] == "read of 'example' failed: KeyError"


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (
            tempest.ResourceNotFoundError(),
            "read of 'example' failed: resource not found: example 'x'",
        ),
        (
            tempest.ResourceNotFoundError("no such example"),
            "read of 'example' failed: resource not found: no such example",
        ),
        (
            tempest.InvalidInputError("name 'x' is taken"),
            "read of 'example' failed: invalid input: name 'x' is taken",
        ),
        (
            tempest.TaskError("the quota is exhausted"),
            "read of 'example' failed: the quota is exhausted",
        ),
        (tempest.TaskError(), "read of 'example' failed: TaskError (no message)"),
    ],
)
async def test_sdk_exceptions_read_well(
    exc: Exception, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="tempest_sdk.app"):
        report = assert_report(
            await failing_app(exc).dispatch(operation_task("read", external_id="x"))
        )
    assert report["message"] == message
    assert "Traceback" not in caplog.text  # an expected outcome, not a crash


# -- returned data ------------------------------------------------------------------------


def returning_app(value: Any, *, kind: str = "read") -> tempest.App:
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)
    getattr(example, kind)(lambda: value)
    return app


@pytest.mark.parametrize("operation", ["create", "read", "update"])
async def test_returned_properties_are_validated(operation: str) -> None:
    """Mirrors Go: `validate create/read/update output` against the properties schema."""
    app = returning_app(
        tempest.Resource(external_id="x", properties={"color": 1, "shade": "x"}), kind=operation
    )
    report = assert_report(await app.dispatch(operation_task(operation, external_id="x", input={})))
    assert report["message"] == (
        f"{operation} of 'example' returned invalid data: resource.properties.color: must be "
        "string, not integer"
    )


async def test_missing_properties_are_invalid_when_the_schema_requires_some() -> None:
    app = returning_app(tempest.Resource(external_id="x"))
    report = assert_report(await app.dispatch(operation_task("read", external_id="x")))
    assert report["message"] == (
        "read of 'example' returned invalid data: resource.properties.color: is required"
    )


async def test_delete_output_is_not_validated() -> None:
    """Mirrors Go: "We don't validate the output properties for a delete operation"."""
    app = returning_app(tempest.Resource(properties={"color": 1}), kind="delete")
    report = assert_report(await app.dispatch(operation_task("delete", external_id="x")))
    assert report["status"] == "ok"
    assert report["response"]["resource"]["properties"] == {"color": 1}


async def test_every_listed_item_is_validated() -> None:
    """Mirrors Go `ListResources`: each resource's properties are validated."""
    items = [
        tempest.Resource(external_id="a", properties={"color": "c"}),
        tempest.Resource(external_id="b", properties={"colour": "c"}),
        tempest.Resource(properties={"color": "c"}),
    ]
    app = returning_app(tempest.Page(resources=items), kind="list")
    report = assert_report(await app.dispatch(list_task()))
    assert report["message"] == (
        "list of 'example' returned invalid data: resources[1].properties.color: is required; "
        "resources[2].external_id: is empty; a resource needs the id it has in the external system"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "resource: is a NoneType, not a tempest.Resource"),
        ("x", "resource: is a str, not a tempest.Resource"),
        (
            tempest.Resource(type="other", properties={"color": "c"}),
            "resource.type: is 'other', but the task is for 'example'",
        ),
        (
            {"properties": {"color": "c"}, "links": [{"title": "t"}]},
            "resource: not a valid resource: links.links.0.url",
        ),
    ],
)
async def test_wrong_results(value: Any, problem: str) -> None:
    app = returning_app(value)
    report = assert_report(await app.dispatch(operation_task("read", external_id="x")))
    assert report["message"].startswith(f"read of 'example' returned invalid data: {problem}")


async def test_a_mapping_result_is_read_as_a_resource() -> None:
    app = returning_app({"display_name": "D", "properties": {"color": "c"}})
    report = assert_report(await app.dispatch(operation_task("read", external_id="x")))
    assert report["response"]["resource"]["display_name"] == "D"


async def test_create_needs_an_external_id() -> None:
    app = returning_app(tempest.Resource(properties={"color": "c"}), kind="create")
    report = assert_report(await app.dispatch(operation_task("create")))
    assert "resource.external_id: is empty" in report["message"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (tempest.Page(resources=[], next=3), "next: is a int, not a str"),  # type: ignore[arg-type]
        (tempest.Page(resources="abc"), "resources: is a str, not a list"),  # type: ignore[arg-type]
        (42, "is a int, not a tempest.Page"),
    ],
)
async def test_wrong_pages(value: Any, problem: str) -> None:
    report = assert_report(await returning_app(value, kind="list").dispatch(list_task()))
    assert report["message"] == f"list of 'example' returned invalid data: {problem}"


async def test_python_values_in_properties_are_sent_in_their_json_form() -> None:
    class Stamped(BaseModel):
        at: datetime.datetime
        size: int | None = None

    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Stamped)
    when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
    example.read(lambda: tempest.Resource(properties={"at": when, "size": None}))
    report = assert_report(await app.dispatch(operation_task("read", external_id="x")))
    assert report["response"]["resource"]["properties"] == {"at": "2024-05-01T12:00:00Z"}


async def test_action_output_is_validated_against_its_schema() -> None:
    """Mirrors Go: `validate action output` against the action's output schema."""
    app, _ = raw_app()
    report = assert_report(
        await app.dispatch(action_task("check", input={"level": 1, "answer": {"ok": "yes"}}))
    )
    assert report["message"] == (
        "action 'check' of 'example' returned invalid data: output.ok: must be boolean, not string"
    )


async def test_model_action_output() -> None:
    app = tempest.App("hello", "v1")
    example = app.resource("example")
    results: list[Any] = [PaintResult(coats=2, note=None), {"coats": "x"}, [1], None]

    @example.action("paint")
    def paint() -> PaintResult:
        return results.pop(0)  # type: ignore[no-any-return]

    ok = assert_report(await app.dispatch(action_task("paint")))
    assert ok["response"]["output"] == {"coats": 2}  # None fields are left out
    bad = assert_report(await app.dispatch(action_task("paint")))
    assert bad["message"] == (
        "action 'paint' of 'example' returned invalid data: output.coats: Input should be a valid "
        "integer, unable to parse string as an integer"
    )
    assert (
        "output: Input should be a valid dictionary"
        in assert_report(await app.dispatch(action_task("paint")))["message"]
    )
    assert (
        "output.coats: is required"
        in assert_report(await app.dispatch(action_task("paint")))["message"]
    )


async def test_untyped_action_output() -> None:
    app = tempest.App("hello", "v1")
    example = app.resource("example")
    outputs: list[Any] = [None, {"any": ["thing"]}, "nope"]
    example.action("go")(lambda: outputs.pop(0))
    assert assert_report(await app.dispatch(action_task("go")))["response"]["output"] == {}
    assert assert_report(await app.dispatch(action_task("go")))["response"]["output"] == {
        "any": ["thing"]
    }
    assert assert_report(await app.dispatch(action_task("go")))["message"] == (
        "action 'go' of 'example' returned invalid data: output: must be an object (a dict or "
        "the annotated model), not str"
    )


# -- secrets ------------------------------------------------------------------------------

ENV = [
    {"name": "REGION", "value": "eu-west-1", "type": "variable"},
    {"name": "TOKEN", "value": "tok-5f2a9c", "type": "secret"},
    {
        "name": "KEY",
        "value": "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----",
        "type": "private_key",
    },
]


async def test_sensitive_values_are_scrubbed_from_reports_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)

    @example.create
    def create(ctx: tempest.Context) -> tempest.Resource:
        token = ctx.env.secret("TOKEN")
        line = ctx.env.secret("KEY").splitlines()[1]
        raise RuntimeError(f"login failed with {token} in {ctx.env['REGION']}; key line {line}")

    with caplog.at_level(logging.DEBUG, logger="tempest_sdk"):
        report = assert_report(await app.dispatch(operation_task("create", env=ENV)))
    assert report["message"] == (
        "create of 'example' failed: RuntimeError: login failed with ********** in eu-west-1; "
        "key line **********"
    )
    assert "tok-5f2a9c" not in caplog.text
    assert "MIIEvQIBADAN" not in caplog.text
    assert "eu-west-1" in caplog.text


async def test_secrets_are_scrubbed_from_invalid_data_messages() -> None:
    app = tempest.App("hello", "v1")
    example = app.resource(
        "example", properties={"type": "object", "properties": {"p": {"enum": ["tok-5f2a9c"]}}}
    )
    example.create(lambda: tempest.Resource(external_id="x", properties={"p": 1}))
    report = assert_report(await app.dispatch(operation_task("create", env=ENV)))
    assert "tok-5f2a9c" not in report["message"]
    assert 'must be one of "**********"' in report["message"]


# -- the context --------------------------------------------------------------------------


async def test_the_context() -> None:
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)
    seen: dict[str, Any] = {}

    @example.action("inspect")
    async def inspect(ctx: tempest.Context) -> dict[str, Any]:
        seen.update(
            task_id=ctx.task_id,
            app=(ctx.app_id, ctx.version),
            where=(ctx.resource_type, ctx.operation, ctx.action),
            project=ctx.metadata.project_name,
            owners=[o.email for o in ctx.metadata.owners],
            author=ctx.metadata.author.name,
            env=dict(ctx.env),
            types=dict(ctx.env.types),
            token=ctx.env.secret("TOKEN"),
            thread=threading.get_ident(),
        )
        ctx.logger.info("inspected")
        return {}

    assert_report(await app.dispatch(action_task("inspect", env=ENV, task_id="t-42")))
    assert seen == {
        "task_id": "t-42",
        "app": ("hello", "v1"),
        "where": ("example", "action", "inspect"),
        "project": METADATA["project_name"],
        "owners": ["ada@example.com"],
        "author": "Ada",
        "env": {"REGION": "eu-west-1"},
        "types": {"REGION": "variable", "TOKEN": "secret", "KEY": "private_key"},
        "token": "tok-5f2a9c",
        "thread": threading.get_ident(),
    }


async def test_sync_handlers_run_in_a_worker_thread_async_ones_in_the_loop() -> None:
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)
    threads: dict[str, int] = {}

    def sync_read(resource: tempest.Resource) -> tempest.Resource:
        threads["sync"] = threading.get_ident()
        return tempest.Resource(properties={"color": "c"})

    async def async_create() -> tempest.Resource:
        threads["async"] = threading.get_ident()
        return tempest.Resource(external_id="x", properties={"color": "c"})

    example.read(sync_read)
    example.create(async_create)
    assert_report(await app.dispatch(operation_task("read", external_id="x")))
    assert_report(await app.dispatch(operation_task("create")))
    assert threads["async"] == threading.get_ident()
    assert threads["sync"] != threading.get_ident()


async def test_thread_limiter_is_used() -> None:
    import anyio

    limiter = anyio.CapacityLimiter(1)
    borrowed: list[float] = []
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)

    @example.read
    def read() -> tempest.Resource:
        borrowed.append(limiter.borrowed_tokens)
        return tempest.Resource(properties={"color": "c"})

    assert_report(
        await app.dispatch(operation_task("read", external_id="x"), thread_limiter=limiter)
    )
    assert borrowed == [1]


# -- robustness ---------------------------------------------------------------------------


async def test_an_sdk_bug_still_gives_a_report(
    app: tempest.App, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tempest_sdk._app import _dispatch

    def broken(*args: object) -> None:
        raise AttributeError("a bug of the SDK")

    monkeypatch.setattr(_dispatch._Call, "prepare", broken)
    with caplog.at_level(logging.ERROR, logger="tempest_sdk.app"):
        report = assert_report(await app.dispatch(operation_task("create", input={})))
    assert report["message"] == "internal error in tempest_sdk: AttributeError: a bug of the SDK"
    assert "Traceback" in caplog.text


async def test_even_an_empty_constructed_task_gets_a_report(app: tempest.App) -> None:
    report = assert_report(await app.dispatch(Task.model_construct()))
    assert report["task_id"] == ""
    assert report["message"].startswith("unknown request_type None")


async def test_unknown_request_type_from_a_constructed_task(app: tempest.App) -> None:
    class Odd:
        request_type = "reticulate"
        resource = tempest.Resource(type="example")

    report = assert_report(
        await app.dispatch(Task.model_construct(task_id="t", task=Odd(), metadata=None))
    )
    assert "unknown request_type 'reticulate'" in report["message"]


async def test_cancellation_propagates() -> None:
    import anyio

    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=Props)
    started = anyio.Event()

    @example.read
    async def read() -> tempest.Resource:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(app.dispatch, operation_task("read", external_id="x"))
            await started.wait()
            group.cancel_scope.cancel()


async def test_an_optional_field_without_default_may_be_left_out() -> None:
    """Published as not required, so Tempest may omit it: the handler gets None."""

    class Tag(BaseModel):
        tag: str | None

    app = tempest.App("hello", "v1")
    example = app.resource("example")
    seen: list[Tag] = []

    @example.action("tag")
    def tag(input: Tag) -> dict[str, Any]:
        seen.append(input)
        return {}

    definition = example.definition()
    assert definition.actions is not None
    assert "required" not in (definition.actions[0].input_json_schema or {})
    assert_report(await app.dispatch(action_task("tag")))
    assert_report(await app.dispatch(action_task("tag", input={"tag": "x"})))
    assert [t.tag for t in seen] == [None, "x"]


async def test_aliases_are_used_on_both_sides() -> None:
    class In(BaseModel):
        full_name: str = Field(alias="fullName")

    class Out(BaseModel):
        greeting_text: str = Field(alias="greetingText")

    app = tempest.App("hello", "v1")
    example = app.resource("example")

    @example.action("greet")
    def greet(input: In) -> Out:
        return Out(greetingText=f"hi {input.full_name}")

    action = (example.definition().actions or [])[0]
    assert list((action.input_json_schema or {})["properties"]) == ["fullName"]
    assert list((action.output_json_schema or {})["properties"]) == ["greetingText"]
    report = assert_report(await app.dispatch(action_task("greet", input={"fullName": "Ada"})))
    assert report["response"]["output"] == {"greetingText": "hi Ada"}


# -- a resource built while a task runs ----------------------------------------------------


def _recording_app() -> tuple[tempest.App, list[tempest.Resource]]:
    app = tempest.App("defaults", "v1")
    example = app.resource("example", description="An example.", properties={"type": "object"})
    built: list[tempest.Resource] = []

    @example.read
    async def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        built.append(tempest.Resource(properties={"n": 1}))
        return built[-1]

    @example.update
    def update(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        # A plain handler, in a worker thread.
        built.append(tempest.Resource())
        return built[-1]

    @example.list
    async def list_(ctx: tempest.Context, next: str) -> tempest.Page:
        built.append(tempest.Resource(external_id="listed"))
        return tempest.Page(resources=[built[-1]])

    return app, built


async def test_the_report_completes_a_handlers_resource_from_the_task() -> None:
    app, built = _recording_app()
    read = resource_dict("example", "ex-1", display_name="One")
    reports = [
        assert_report(await app.dispatch(operation_task("read", resource=read))),
        assert_report(await app.dispatch(operation_task("update", input={}, resource=read))),
    ]
    for report in reports:
        sent = report["response"]["resource"]
        assert (sent["type"], sent["external_id"], sent["display_name"]) == (
            "example",
            "ex-1",
            "One",
        )
    # The handler's objects are plain values, completed in a copy: left as built.
    for resource in built:
        assert (resource.type, resource.external_id, resource.display_name) == ("", "", "")


async def test_a_listed_resource_takes_only_the_tasks_type() -> None:
    app, built = _recording_app()
    resource = resource_dict("example", "not-a-listed-one", display_name="X")
    request = {"request_type": "list_resources", "resource": resource, "next": ""}
    task = parse_task({"task_id": "task-1", "task": request, "metadata": METADATA})
    report = assert_report(await app.dispatch(task))
    (listed,) = report["response"]["resources"]
    assert listed == {"type": "example", "external_id": "listed", "display_name": ""}
    assert (built[0].type, built[0].external_id) == ("", "listed")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_plain_handlers_resource_is_completed_on_each_backend(backend: str) -> None:
    app, _ = _recording_app()
    read = resource_dict("example", "ex-1", display_name="One")
    reports = []

    async def update() -> None:
        reports.append(
            assert_report(await app.dispatch(operation_task("update", input={}, resource=read)))
        )

    anyio.run(update, backend=backend)
    (report,) = reports
    sent = report["response"]["resource"]
    assert (sent["type"], sent["external_id"], sent["display_name"]) == ("example", "ex-1", "One")
