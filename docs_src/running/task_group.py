# ruff: noqa: PIE790  (the `...` stands for the program's own work)
import anyio

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import Runner

from .tempest_app import app


async def main() -> None:
    async with (
        AsyncTempestClient() as client,
        anyio.create_task_group() as group,
    ):
        runner = Runner(app, client)
        # run() returns after shutdown(); it raises RunnerStartupError.
        group.start_soon(runner.run)
        await runner.ready()  # connected and polling
        ...
        await runner.shutdown(grace=10)


anyio.run(main)
