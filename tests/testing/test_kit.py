"""The testing kit used as a user would: invoke, exercise, samples and the pytest fixtures."""

from __future__ import annotations

import pytest

from tempest_sdk.models import EnvironmentVariableType, ExecuteResourceActionRequest
from tempest_sdk.testing import (
    Emulator,
    ainvoke,
    default_steps,
    exercise,
    invoke,
    load_steps,
    replay,
    sample_input,
    sample_task,
)


def test_invoke_runs_a_handler_through_dispatch(helloworld):
    report = invoke(helloworld, "example", "create", input={"color": "teal"})
    assert report.status == "ok", report.message
    resource = report.response.resource
    assert resource.type == "example"
    assert resource.properties == {"color": "teal"}


def test_invoke_reports_errors_instead_of_raising(helloworld):
    report = invoke(helloworld, "example", "read")
    assert report.status == "error"
    assert "external_id" in report.message
    assert report.response is None


async def test_ainvoke_and_invoke_refuses_a_running_loop(helloworld):
    report = await ainvoke(helloworld, "example", "list")
    assert report.status == "ok", report.message
    with pytest.raises(RuntimeError, match="await ainvoke"):
        invoke(helloworld, "example", "list")


def test_invoke_and_replay_refuse_a_running_trio_loop(helloworld, tmp_path):
    import anyio

    async def inside() -> None:
        report = await ainvoke(helloworld, "example", "list")
        assert report.status == "ok", report.message
        with pytest.raises(RuntimeError, match=r"invoke\(\) cannot run inside an event loop"):
            invoke(helloworld, "example", "list")
        with pytest.raises(RuntimeError, match="await areplay"):
            replay(tmp_path / "never-read.jsonl", helloworld)

    anyio.run(inside, backend="trio")


def test_replay_options_are_the_keywords_of_areplay():
    # `replay` takes `ReplayOptions` and passes them on: they must be `areplay`'s keywords.
    import inspect

    from tempest_sdk.testing import ReplayOptions, areplay

    parameters = inspect.signature(areplay).parameters.values()
    keywords = {p.name for p in parameters if p.kind is p.KEYWORD_ONLY}
    assert ReplayOptions.__optional_keys__ == keywords


def test_sample_task_marks_secrets_and_variables():
    task = sample_task("example", "rebuild", env={"REGION": "eu"}, secrets={"TOKEN": "s3cr3t"})
    assert isinstance(task.task, ExecuteResourceActionRequest)
    kinds = {v.name: v.type for v in task.task.environment_variables or []}
    assert kinds == {
        "REGION": EnvironmentVariableType.VARIABLE,
        "TOKEN": EnvironmentVariableType.SECRET,
    }
    assert "s3cr3t" not in repr(task)


def test_sample_input_prefers_default_then_examples_then_enum():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "default": "from-default", "examples": ["no"]},
            "b": {"type": "string", "examples": ["from-examples"]},
            "c": {"type": "string", "enum": ["first", "second"]},
            "d": {"type": "integer", "minimum": 3},
            "e": {"type": "string", "minLength": 9},
            "optional": {"type": "string"},
        },
        "required": ["d", "e"],
    }
    assert sample_input(schema) == {
        "a": "from-default",
        "b": "from-examples",
        "c": "first",
        "d": 3,
        "e": "examplexx",
    }
    assert sample_input(None) == {}


def test_default_steps_cover_every_capability_in_order(helloworld):
    names = [s.name for s in default_steps(helloworld)]
    assert names == ["create", "list", "read", "update", "repaint", "delete"]


def test_load_steps_explains_bad_entries(tmp_path, helloworld):
    path = tmp_path / "tasks.json"
    path.write_text('[{"type": "example", "operation": "create"}, {"type": "example"}]')
    with pytest.raises(ValueError, match=r"tasks\.json\[1\]: give 'operation'"):
        load_steps(path, [helloworld])
    path.write_text('{"type": "example"}')
    with pytest.raises(ValueError, match="JSON list"):
        load_steps(path, [helloworld])


async def test_exercise_runs_every_capability_through_the_real_runner(helloworld):
    results = await exercise(helloworld)
    assert [r.step.name for r in results] == [
        "create",
        "list",
        "read",
        "update",
        "repaint",
        "delete",
    ]
    assert not any(r.failed for r in results), [r.to_json() for r in results if r.failed]


def test_emulator_is_reachable_from_the_kit():
    assert Emulator.__module__.startswith("tempest_sdk.emulator")


def test_fixtures_serve_the_app(tempest_emulator, tempest_runner):
    task_id = tempest_emulator.enqueue_operation(
        "helloworld", "v1", "example", "create", input={"color": "plum"}
    )
    tempest_emulator.wait_for_reports(1, timeout=30)
    (report,) = tempest_emulator.reports(task_id)
    assert report["status"] == "ok"
    assert report["response"]["resource"]["properties"] == {"color": "plum"}
    assert tempest_emulator.connects[0]["app_id"] == "helloworld"
    assert tempest_emulator.violations == []


async def test_exercise_the_dashboards_example_built_from_go_schemas():
    from .conftest import ROOT, _load

    dashboards = _load("_testing_dashboards", ROOT / "examples" / "dashboards" / "app.py").app
    results = await exercise(dashboards)
    assert [r.step.name for r in results] == ["create", "list", "read", "update", "delete"]
    assert not any(r.failed for r in results), [r.to_json() for r in results if r.failed]


def test_two_smoke_runs_create_different_things() -> None:
    """A create's example strings carry a suffix new in every run, where the schema
    allows one: two runs against one service never collide (issue 25)."""
    from pydantic import BaseModel, Field

    import tempest_sdk as tempest
    from tempest_sdk.testing import default_steps

    class FlagIn(BaseModel):
        name: str = Field(examples=["dark-mode"])
        code: str = Field(examples=["AB"], pattern="^[A-Z]{2}$")
        short: str = Field(examples=["abc"], max_length=4)
        when: str = Field(
            examples=["2026-01-01T00:00:00Z"], json_schema_extra={"format": "date-time"}
        )

    app = tempest.App("flags", "v1")
    flag = app.resource("flag", description="A flag.", properties={"type": "object"})

    @flag.create
    async def create(input: FlagIn) -> tempest.Resource:
        return tempest.Resource(external_id=input.name)

    first, second = (default_steps(app)[0].input for _ in range(2))
    assert first is not None and second is not None
    assert first["name"].startswith("dark-mode-") and second["name"].startswith("dark-mode-")
    assert first["name"] != second["name"]
    # Where a suffix would break the schema, the example stays as it is.
    assert (first["code"], first["short"], first["when"]) == ("AB", "abc", "2026-01-01T00:00:00Z")


def test_the_test_extra_brings_pytest_alone() -> None:
    """`tempest-sdk[test]` is for an app's own tests: pytest for the plugin's fixtures,
    and no other pytest plugin (pytest-asyncio stops a `filterwarnings = error` run
    with an INTERNALERROR when its loop scope is unset)."""
    import importlib.metadata
    import re

    requires = importlib.metadata.metadata("tempest-sdk").get_all("Requires-Dist") or []
    test_extra = [r for r in requires if re.search(r"extra\s*==\s*['\"]test['\"]", r)]
    assert [re.split(r"[\s;<>=!~\[]", r, maxsplit=1)[0] for r in test_extra] == ["pytest"]
