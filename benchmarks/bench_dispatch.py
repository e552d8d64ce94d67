"""What `dispatch` costs per task, beyond the handler's own work.

For a helloworld-shaped create task, each iteration goes from the bytes of the
`next` answer to the bytes of the report: `parse_task`, `app.dispatch`,
`TaskReport.to_json`. The baseline, measured in the same run and the same event
loop, calls the handler directly with ready-made arguments. Overhead is the
pipeline's time minus the baseline's: median minus median, and p99 of the pipeline
minus the baseline's median.

Two apps: one with schemas derived from pydantic models, one with the raw JSON
Schemas of Tempest's Go helloworld example.

Run: python benchmarks/bench_dispatch.py [--iterations N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

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


async def main(iterations: int, rounds: int) -> None:
    print(
        f"dispatch overhead per task (parse_task + dispatch + to_json, minus the handler), "
        f"async create handler, {iterations} iterations in {rounds} rounds"
    )
    await _bench("model-derived schemas", model_app, iterations, rounds)
    await _bench("raw JSON Schemas", raw_app, iterations, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=10)
    options = parser.parse_args()
    asyncio.run(main(options.iterations, options.rounds))
