"""The end-to-end example of docs/emulator.md, run for real: app, runner, emulator."""

from __future__ import annotations

from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner


class Color(BaseModel):
    color: str = "red"


app = tempest.App("helloworld", "v1")
example = app.resource(
    "example",
    display_name="Example",
    description="An example.",
    lifecycle_stage="code",
    properties=Color,
)


@example.create
async def create(input: Color) -> tempest.Resource:
    return tempest.Resource(external_id="ex-1", display_name="Ex 1", properties=input.model_dump())


async def test_create_reports_the_new_resource():
    emulator = Emulator()
    task_id = emulator.enqueue_operation(
        "helloworld", "v1", "create", "example", input={"color": "red"}
    )
    async with emulator.serve(), emulator.client() as client, Runner(app, client=client):
        await emulator.wait_for_reports_async(1, timeout=10)

    (report,) = emulator.reports(task_id)
    assert report["status"] == "ok"
    assert report["response"]["resource"]["properties"]["color"] == "red"
    assert emulator.violations == []


async def test_the_same_in_process_with_connect(emulator):
    task_id = emulator.enqueue_operation(app.app_id, app.version, "create", "example")

    async with emulator.client() as client, Runner(app, client=client, connect=True):
        await emulator.wait_for_reports_async(1, timeout=10)

    assert emulator.reports(task_id)[0]["response"]["resource"]["external_id"] == "ex-1"
    assert emulator.connects[0]["resources"][0]["type"] == "example"
    assert emulator.violations == []
