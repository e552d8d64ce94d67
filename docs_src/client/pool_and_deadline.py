import anyio

from tempest_sdk.client import APIAttemptTimeoutError, AsyncTempestClient

POLLERS, REPORTERS, HEALTH = 64, 64, 1


async def main() -> None:
    async with AsyncTempestClient(
        # One connection for each request that may be in flight at once.
        max_connections=POLLERS + REPORTERS + HEALTH,
        # Each attempt must be done, whole answer included, within 10 s.
        attempt_timeout=10.0,
    ) as client:
        try:
            task = await client.next_task("helloworld", "v1")
        except APIAttemptTimeoutError as error:
            print(f"answers too slow (over {error.attempt_timeout} s)")
        else:
            print("no work right now" if task is None else task.task_id)


anyio.run(main)
