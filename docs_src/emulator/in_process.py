import anyio

from tempest_sdk.emulator import Emulator


async def main() -> None:
    emulator = Emulator()
    async with emulator.client() as client:  # no socket involved
        assert await client.next_task("helloworld", "v1") is None


anyio.run(main)
