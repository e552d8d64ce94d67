"""What `dispatch` costs per task, beyond the handler's own work.

For a helloworld-shaped create task, each iteration goes from the bytes of the
`next` answer to the bytes of the report: `parse_task`, `app.dispatch`,
`TaskReport.to_json`. The baseline, measured in the same run and the same event
loop, calls the handler directly with ready-made arguments. Overhead is the
pipeline's time minus the baseline's: median minus median, and p99 of the pipeline
minus the baseline's median.

Two apps: one with schemas derived from pydantic models, one with the raw JSON
Schemas of Tempest's Go helloworld example.

The target's baseline, also in the same run: the same work written with pydantic
alone, as an app without the SDK would do it. Its models are the contract's, generated
from the OpenAPI document by datamodel-code-generator (`contract_models.py`, unedited):
the `next` answer validated into `NextResponse` (the discriminated task union, enums,
every field), the task routed to its handler, the input validated into the handler's
model, the handler called, a `ReportResponse` dumped to JSON without null fields.
Target: the SDK's pipeline at most 1.5x that bare pipeline (the script exits 1 and
says BELOW TARGET otherwise).

Two more bare pipelines are printed for reference, without a target: hand-written
models with every field of the contract's shapes but none of its enums or unions, the
input validated with the task (what earlier versions of this script used as the
baseline); and minimal models that keep only the fields this task uses (4 of the
resource's 15): an app that drops the rest of what the control plane sends, which no
SDK can.

Run: python benchmarks/bench_dispatch.py [--iterations N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

import contract_models
from pydantic import BaseModel, Field

import tempest_sdk as tempest
from tempest_sdk.models import parse_task

# The schemas of Tempest's Go helloworld example, $schema and $id included.
INPUT_SCHEMA = {
    "$schema": "https://developer.tempestdx.com/schema/v1/tempest-app-schema.json",
    "$id": "https://schema.tempestdx.io/privateapps/helloworld/input.json",
    "type": "object",
    "properties": {
        "color": {
            "title": "Color",
            "description": "The color of the resource.",
            "type": "string",
            "default": "red",
        }
    },
    "required": [],
    "additionalProperties": False,
}
PROPERTIES_SCHEMA = {
    "$schema": "https://developer.tempestdx.com/schema/v1/tempest-properties-schema.json",
    "$id": "https://schema.tempestdx.io/privateapps/helloworld/properties.json",
    "type": "object",
    "properties": {
        "color": {"title": "Color", "description": "The color of the resource.", "type": "string"}
    },
    "required": ["color"],
    "additionalProperties": False,
}

TASK = json.dumps(
    {
        "task_id": "7b3c2f0e-4d1a-4c55-9a51-2f1b0c9d8e77",
        "task": {
            "request_type": "execute_resource_operation",
            "operation": "create",
            "resource": {"type": "example", "external_id": "", "display_name": ""},
            "input": {"color": "blue"},
        },
        "metadata": {
            "project_id": "proj-1",
            "project_name": "Demo",
            "owners": [{"email": "ada@example.com", "name": "Ada", "type": "user"}],
            "author": {"email": "ada@example.com", "name": "Ada", "type": "user"},
        },
    }
).encode()


class Color(BaseModel):
    color: str = Field("red", title="Color", description="The color of the resource.")


class ExampleProperties(BaseModel):
    color: str = Field(title="Color", description="The color of the resource.")


def model_app() -> tuple[tempest.App, Callable[[], Awaitable[Any]]]:
    app = tempest.App("helloworld", "v1")
    example = app.resource("example", description="An example.", properties=ExampleProperties)

    @example.create
    async def create(ctx: tempest.Context, input: Color) -> tempest.Resource:
        return tempest.Resource(
            external_id="example-1", display_name="Example", properties={"color": input.color}
        )

    ctx = _context()
    ready = Color(color="blue")
    return app, lambda: create(ctx, ready)


def raw_app() -> tuple[tempest.App, Callable[[], Awaitable[Any]]]:
    app = tempest.App("helloworld", "v1")
    example = app.resource(
        "example",
        description="An example.",
        properties=tempest.JSONSchema(PROPERTIES_SCHEMA),
    )

    @example.create(input_schema=tempest.JSONSchema(INPUT_SCHEMA))
    async def create(ctx: tempest.Context, input: dict[str, Any]) -> tempest.Resource:
        return tempest.Resource(
            external_id="example-1", display_name="Example", properties={"color": input["color"]}
        )

    ctx = _context()
    ready = {"color": "blue"}
    return app, lambda: create(ctx, ready)


# -- the bare pipeline: pydantic alone, no SDK ----------------------------------------


class _Person(BaseModel):
    email: str
    name: str
    type: str


class _Metadata(BaseModel):
    project_id: str
    project_name: str
    owners: list[_Person]
    author: _Person


class _Resource(BaseModel):
    type: str
    external_id: str
    display_name: str
    properties: dict[str, Any] | None = None


class _Operation(BaseModel):
    request_type: Literal["execute_resource_operation"]
    operation: str
    resource: _Resource
    input: Color


class _Task(BaseModel):
    task_id: str
    task: _Operation
    metadata: _Metadata


class _Response(BaseModel):
    response_type: str = "execute_resource_operation"
    resource: _Resource


class _Report(BaseModel):
    task_id: str
    status: str
    message: str | None = None
    response: _Response | None


# -- the contract's generated models ------------------------------------------------------


async def _generated_create(input: Color) -> contract_models.Resource:
    return contract_models.Resource(
        type="example",
        external_id="example-1",
        display_name="Example",
        properties={"color": input.color},
    )


_GENERATED_HANDLERS = {("example", contract_models.Operation.create): _generated_create}


async def generated_pipeline() -> bytes:
    """`next` bytes to report bytes with pydantic alone, over the generated contract models."""
    task = contract_models.NextResponse.model_validate_json(TASK)
    request = task.task
    if not isinstance(request, contract_models.ExecuteResourceOperationRequest):
        raise NotImplementedError(request.request_type)
    handler = _GENERATED_HANDLERS[request.resource.type, request.operation]
    resource = await handler(Color.model_validate(request.input or {}))
    report = contract_models.ReportResponse(
        task_id=task.task_id,
        status=contract_models.Status1.ok,
        response=contract_models.ExecuteResourceOperationResponse(
            response_type="execute_resource_operation", resource=resource
        ),
    )
    return report.model_dump_json(exclude_none=True).encode()


# -- hand-written models with every field of the contract's shapes ------------------------


class _Owner(BaseModel):
    email: str
    name: str
    type: str


class _TaskMetadata(BaseModel):
    owners: list[_Owner]
    author: _Owner
    project_id: str
    project_name: str


class _LinksItem(BaseModel):
    title: str
    url: str
    type: str


class _Links(BaseModel):
    links: list[_LinksItem] | None = None


class _ContractResource(BaseModel):
    id: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    deleted_at: datetime | None = None
    display_name: str
    external_id: str
    external_url: str | None = None
    name: str | None = None
    organization_id: str | None = None
    type: str
    status: str | None = None
    synced_at: datetime | None = None
    updated_at: datetime | None = None
    properties: dict[str, Any] | None = None
    links: _Links | None = None


class _EnvironmentVariable(BaseModel):
    key: str
    value: str
    type: str


class _ContractOperation(BaseModel):
    request_type: Literal["execute_resource_operation"]
    resource: _ContractResource
    operation: str
    input: Color
    environment_variables: list[_EnvironmentVariable] | None = None
    metadata: dict[str, Any] | None = None


class _ContractTask(BaseModel):
    task: _ContractOperation
    task_id: str
    metadata: _TaskMetadata


class _ContractResponse(BaseModel):
    response_type: Literal["execute_resource_operation"] = "execute_resource_operation"
    resource: _ContractResource


class _ContractReport(BaseModel):
    response: _ContractResponse | None
    task_id: str
    status: Literal["ok", "error"]
    message: str | None = None


async def _contract_create(input: Color) -> _ContractResource:
    return _ContractResource(
        type="example",
        external_id="example-1",
        display_name="Example",
        properties={"color": input.color},
    )


async def contract_pipeline() -> bytes:
    """`next` bytes to report bytes with pydantic alone, over the contract's shapes."""
    task = _ContractTask.model_validate_json(TASK)
    resource = await _contract_create(task.task.input)
    report = _ContractReport(
        task_id=task.task_id, status="ok", response=_ContractResponse(resource=resource)
    )
    return report.model_dump_json(exclude_none=True).encode()


async def _bare_create(input: Color) -> _Resource:
    return _Resource(
        type="example",
        external_id="example-1",
        display_name="Example",
        properties={"color": input.color},
    )


async def bare_pipeline() -> bytes:
    """`next` bytes to report bytes with pydantic alone."""
    task = _Task.model_validate_json(TASK)
    resource = await _bare_create(task.task.input)
    report = _Report(task_id=task.task_id, status="ok", response=_Response(resource=resource))
    return report.model_dump_json().encode()


def _context() -> tempest.Context:
    task = parse_task(TASK)
    return tempest.Context(
        task_id=task.task_id,
        app_id="helloworld",
        version="v1",
        resource_type="example",
        operation="create",
        metadata=task.metadata,
    )


async def _pairs(
    pipeline: Callable[[], Awaitable[Any]],
    baseline: Callable[[], Awaitable[Any]],
    iterations: int,
) -> tuple[list[float], list[float]]:
    """Time pipeline and baseline alternately, so that any disturbance hits both alike."""
    clock = time.perf_counter_ns
    piped, base = [], []
    for _ in range(iterations):
        start = clock()
        await pipeline()
        middle = clock()
        await baseline()
        end = clock()
        piped.append((middle - start) / 1_000)
        base.append((end - middle) / 1_000)
    return piped, base


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


async def _versus_bare(
    app: tempest.App,
    bare: Callable[[], Awaitable[bytes]],
    label: str,
    iterations: int,
    rounds: int,
) -> float:
    """The SDK's pipeline against a bare one, alternately; prints and returns the ratio
    of their medians (median over rounds)."""

    async def pipeline() -> bytes:
        report = await app.dispatch(parse_task(TASK))
        return report.to_json()

    await _pairs(pipeline, bare, min(2_000, iterations))  # warm up
    ratios, sdk, base = [], [], []
    for _ in range(rounds):
        piped, baseline = await _pairs(pipeline, bare, iterations // rounds)
        sdk.append(statistics.median(piped))
        base.append(statistics.median(baseline))
        ratios.append(sdk[-1] / base[-1])
    ratio = statistics.median(ratios)
    print(
        f"{label:<22} pipeline median {statistics.median(sdk):5.1f} µs  | bare "
        f"pipeline (validate, handler, dump) median {statistics.median(base):4.1f} µs  "
        f"ratio {ratio:.2f}"
    )
    return ratio


async def _bench(name: str, build: Callable[[], Any], iterations: int, rounds: int) -> None:
    app, baseline = build()

    async def pipeline() -> bytes:
        report = await app.dispatch(parse_task(TASK))
        return report.to_json()

    check = json.loads(await pipeline())
    if check["status"] != "ok":
        raise SystemExit(f"{name}: the task failed: {check['message']}")
    await _pairs(pipeline, baseline, min(2_000, iterations))  # warm up
    gc.collect()
    results = []
    for _ in range(rounds):
        piped, base = await _pairs(pipeline, baseline, iterations // rounds)
        overhead = [p - b for p, b in zip(piped, base, strict=True)]
        results.append((statistics.median(overhead), _p99(overhead), piped, base, overhead))
    every = [x for r in results for x in r[4]]
    piped = [x for r in results for x in r[2]]
    base = [x for r in results for x in r[3]]
    quiet = min(results, key=lambda r: r[0])
    print(
        f"{name:<22} overhead median {statistics.median(every):5.1f} µs  p99 {_p99(every):6.1f} µs"
        f"  (quietest of {rounds} rounds: median {quiet[0]:5.1f} µs, p99 {quiet[1]:6.1f} µs)"
        f"\n{'':<22} pipeline median {statistics.median(piped):5.1f} µs  p99 {_p99(piped):6.1f} µs"
        f"  | baseline (handler alone) median {statistics.median(base):4.1f} µs"
        f"  p99 {_p99(base):5.1f} µs"
    )


async def main(iterations: int, rounds: int) -> int:
    print(
        f"dispatch overhead per task (parse_task + dispatch + to_json, minus the handler), "
        f"async create handler, {iterations} iterations in {rounds} rounds"
    )
    await _bench("model-derived schemas", model_app, iterations, rounds)
    await _bench("raw JSON Schemas", raw_app, iterations, rounds)
    app = model_app()[0]
    ratio = await _versus_bare(app, generated_pipeline, "vs pydantic alone", iterations, rounds)
    print(f"{'':<22} (target <= 1.5: the contract's models as datamodel-codegen writes them)")
    shapes = await _versus_bare(
        app, contract_pipeline, "vs hand-written shapes", iterations, rounds
    )
    print(
        f"{'':<22} (for reference, {shapes:.2f}: every field, no enum or union, "
        "the input read with the task)"
    )
    minimal = await _versus_bare(app, bare_pipeline, "vs minimal models", iterations, rounds)
    print(f"{'':<22} (for reference, {minimal:.2f}: 4 of the resource's 15 fields, no target)")
    if ratio > 1.5:
        print(f"\nBELOW TARGET: the SDK's pipeline is {ratio:.2f}x pydantic alone, above 1.5x")
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=10)
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.iterations, options.rounds)))
