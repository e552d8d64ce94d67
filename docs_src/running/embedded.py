# The runner embedded in a program's own event loop.
import anyio

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import Runner

from .tempest_app import app


async def do_other_work() -> None:
    """Stands for the program's own work."""
    await anyio.lowlevel.checkpoint()


async def main() -> None:
    async with (
        AsyncTempestClient() as client,
        Runner(app, client, concurrency=32),
    ):
        # Entering waited until the runner was connected (if asked) and
        # polling; a rejected token raised RunnerStartupError here.
        await do_other_work()
    # Leaving shut down gracefully and waited for it.


anyio.run(main)
