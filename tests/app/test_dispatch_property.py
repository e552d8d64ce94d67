"""Property: whatever the task, and whatever the handler does, dispatch returns a valid report."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.models import MalformedTaskError, Task, parse_task

from .conftest import METADATA, assert_report

SECRET = "s3cr3t-Value-42"


class Props(BaseModel):
    color: str


class Input(BaseModel):
    mode: str = "ok"
    color: str = "red"


def behave(mode: str, ctx: tempest.Context, external_id: str = "made") -> Any:
    """What a handler does, chosen by its input."""
    if mode == "raise":
        raise RuntimeError(
            f"failed with {ctx.env.secret('TOKEN') if 'TOKEN' in ctx.env.types else 'no token'}"
        )
    if mode == "notfound":
        raise tempest.ResourceNotFoundError()
    if mode == "bad":
        return tempest.Resource(external_id=external_id, properties={"color": 1})
    if mode == "none":
        return None
    if mode == "weird":
        return object()
    return tempest.Resource(external_id=external_id, display_name="D", properties={"color": "c"})


def build_app() -> tempest.App:
    app = tempest.App("prop-app", "v1")
    example = app.resource("example", properties=Props)
    app.resource("bare")

    @example.create
    async def create(ctx: tempest.Context, input: Input) -> tempest.Resource:
        return behave(input.mode, ctx)  # type: ignore[no-any-return]

    @example.read
    def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        return behave(resource.external_id, ctx, "")  # type: ignore[no-any-return]

    @example.update
    async def update(ctx: tempest.Context, input: dict[str, Any]) -> tempest.Resource:
        return behave(str(input.get("mode", "ok")), ctx, "")  # type: ignore[no-any-return]

    @example.delete
    def delete(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource | None:
        return behave(resource.external_id, ctx, "")  # type: ignore[no-any-return]

    @example.list
    async def list_all(ctx: tempest.Context, cursor: str) -> tempest.Page:
        item = behave(cursor, ctx)
        return tempest.Page(resources=[item] if item is not None else [], next=cursor[:3])

    @example.action(
        "paint",
        input_schema={
            "type": "object",
            "properties": {"mode": {"type": "string", "default": "ok"}, "n": {"type": "integer"}},
        },
        output_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    async def paint(ctx: tempest.Context, input: dict[str, Any]) -> dict[str, Any]:
        result = behave(str(input["mode"]), ctx)
        return {"n": input.get("n", 0)} if isinstance(result, tempest.Resource) else result

    return app


APP = build_app()

modes = st.sampled_from(["ok", "raise", "notfound", "bad", "none", "weird", SECRET])
values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=5), modes)
inputs = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["mode", "color", "n", "extra"]), values, max_size=4),
)
env = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["TOKEN", "REGION", "KEY"]),
            "value": st.sampled_from([SECRET, "eu", ""]),
            "type": st.sampled_from(
                ["variable", "secret", "certificate", "private_key", "public_key"]
            ),
        }
    ),
    max_size=3,
)
resources = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["example", "bare", "unknown", ""]),
        "external_id": st.one_of(modes, st.just("")),
        "display_name": st.sampled_from(["", "Shown"]),
    }
)
operation_requests = st.fixed_dictionaries(
    {
        "request_type": st.just("execute_resource_operation"),
        "operation": st.sampled_from(["create", "read", "update", "delete", "list", "explode"]),
        "resource": resources,
    },
    optional={"input": inputs, "environment_variables": env},
)
action_requests = st.fixed_dictionaries(
    {
        "request_type": st.just("execute_resource_action"),
        "action": st.sampled_from(["paint", "polish", ""]),
        "resource": resources,
    },
    optional={"input": inputs, "environment_variables": env},
)
list_requests = st.fixed_dictionaries(
    {
        "request_type": st.just("list_resources"),
        "resource": resources,
        "next": st.one_of(modes, st.just("")),
    }
)
broken_requests = st.one_of(
    st.dictionaries(
        st.sampled_from(["request_type", "resource", "operation", "next"]), values, max_size=3
    ),
    st.fixed_dictionaries(
        {"request_type": st.sampled_from(["teleport", 3, None]), "resource": resources}
    ),
)
tasks = st.fixed_dictionaries(
    {
        "task_id": st.text(min_size=1, max_size=8),
        "task": st.one_of(operation_requests, action_requests, list_requests, broken_requests),
        "metadata": st.just(METADATA),
    }
)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.Runner]:
    """One event loop for every example (a loop per example would dominate the run time)."""
    with asyncio.Runner() as runner:
        yield runner


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=tasks)
def test_dispatch_always_reports(loop: asyncio.Runner, payload: dict[str, Any]) -> None:
    try:
        task = parse_task(payload)
    except MalformedTaskError as exc:
        # Never reaches dispatch: the runner reports these itself (with exc.task_id).
        malformed = exc
    else:
        malformed = None
    if malformed is not None:
        assert malformed.task_id in (payload["task_id"], None)
        return
    report = loop.run(APP.dispatch(task, timeout=5))
    wire = assert_report(report)
    assert wire["task_id"] == payload["task_id"]
    if wire["status"] == "error":
        sensitive = [
            v["value"]
            for v in payload["task"].get("environment_variables") or []
            if v["type"] != "variable" and v["value"]
        ]
        for value in sensitive:
            assert value not in wire["message"]


@settings(max_examples=50, deadline=None)
@given(garbage=st.one_of(values, st.builds(object), st.dictionaries(st.text(max_size=3), values)))
def test_dispatch_survives_tasks_built_without_validation(
    loop: asyncio.Runner, garbage: Any
) -> None:
    """A runner could hand over a `Task.model_construct(...)`; even that gets a report."""
    task = Task.model_construct(task_id="t-1", task=garbage, metadata=None)
    wire = assert_report(loop.run(APP.dispatch(task)))
    assert wire["status"] == "error"
