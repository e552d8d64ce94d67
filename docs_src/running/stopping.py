"""A handler that copies in batches and stops between two on a drain."""

from __future__ import annotations

import anyio
from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("backfill", "v1")


class Copy(BaseModel):
    batches: int = 100


archive = app.resource(
    "archive", description="An archive.", properties={"type": "object"}
)
copied: list[int] = []


async def copy_batch(number: int) -> None:
    await anyio.sleep(0.01)
    copied.append(number)


@archive.action("copy", description="Copy every batch into the archive.")
async def copy(ctx: tempest.Context, input: Copy) -> dict[str, int]:
    for number in range(input.batches):
        if ctx.stopping:  # the runner drains: stop between two batches
            raise tempest.TaskError(f"stopped after {number}; run it again")
        await copy_batch(number)
    return {"copied": input.batches}
