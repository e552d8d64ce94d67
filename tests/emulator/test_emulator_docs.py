"""The app of docs/emulator.md's end-to-end example (docs_src/emulator/myapp.py), run
for real with the runner and the emulator, in a served and an in-process variant."""

from __future__ import annotations

from docs_src.emulator.myapp import app
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner


async def test_create_reports_the_new_resource():
    emulator = Emulator()
    task_id = emulator.enqueue_operation(
        "helloworld", "v1", "example", "create", input={"color": "red"}
    )
    async with emulator.serve(), emulator.client() as client, Runner(app, client=client):
        await emulator.wait_for_reports_async(1, timeout=10)

    (report,) = emulator.reports(task_id)
    assert report["status"] == "ok"
    assert report["response"]["resource"]["properties"]["color"] == "red"
    assert emulator.violations == []


async def test_the_same_in_process_with_connect(emulator):
    task_id = emulator.enqueue_operation(app.app_id, app.version, "example", "create")

    async with emulator.client() as client, Runner(app, client=client, connect=True):
        await emulator.wait_for_reports_async(1, timeout=10)

    assert emulator.reports(task_id)[0]["response"]["resource"]["external_id"] == "ex-1"
    assert emulator.connects[0]["resources"][0]["type"] == "example"
    assert emulator.violations == []
