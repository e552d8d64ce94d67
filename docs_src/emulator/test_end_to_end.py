# ruff: noqa: I001  (the reader's own package comes last, as in their tests)
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

from myapp import app


async def test_create_reports_the_new_resource() -> None:
    emulator = Emulator()
    task_id = emulator.enqueue_operation(
        "helloworld", "v1", "example", "create", input={"color": "red"}
    )
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(app, client=client),
    ):
        await emulator.wait_for_reports_async(1, timeout=10)

    (report,) = emulator.reports(task_id)
    assert report["status"] == "ok"
    assert report["response"]["resource"]["properties"]["color"] == "red"
    assert emulator.violations == []
