import anyio

from tempest_sdk.client import AsyncTempestClient


async def main() -> None:
    # The token and the endpoint come from the environment.
    async with AsyncTempestClient() as client:
        async for project in client.iter_projects():
            print(project.id, project.name)

        task = await client.next_task("helloworld", "v1")
        if task is None:
            print("no work right now")


anyio.run(main)
