"""Flagpole: a small feature-flag REST service, the system the feature-flags app manages.

It stands for the flag service a team already runs (LaunchDarkly, Unleash, an in-house
one): JSON over HTTP, a bearer token, flags and segments kept in memory.

    python flagpole.py --port 8080 --token dev-flags-token

| call | answer |
|---|---|
| `POST /v1/{flags,segments}` | `201` the new item; `409` when the key is taken |
| `GET /v1/{flags,segments}/{key}` | the item; `404` |
| `PATCH /v1/{flags,segments}/{key}` | the changed item (fields left out stay) |
| `DELETE /v1/{flags,segments}/{key}` | `204`; `404` |
| `GET /v1/{flags,segments}?cursor=&limit=` | `{"items", "next_cursor"}` (null: the last) |
| `POST /v1/flags/{key}/rollout` `{"percentage": 0-100}` | the flag; `409` while it is killed |
| `POST /v1/flags/{key}/kill` `{"reason": "..."}` | the flag, off for everyone |
| `GET /v1/health` | `{"status": "ok"}`, without a token |

Every other call needs `Authorization: Bearer <token>` (`401` without it).
"""

# pyright: strict

from __future__ import annotations

import argparse
import hmac
import sys
from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Response
from pydantic import BaseModel, Field

KEY = r"^[a-z0-9][a-z0-9-]{0,62}$"


class FlagIn(BaseModel):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1)
    description: str = ""
    segment: str = ""


class FlagOut(FlagIn):
    rollout: int = 0
    killed: bool = False
    kill_reason: str = ""


class FlagPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1)
    description: str | None = None
    segment: str | None = None


class SegmentIn(BaseModel):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1)
    rule: str = ""


class SegmentPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1)
    rule: str | None = None


class RolloutIn(BaseModel):
    percentage: int = Field(ge=0, le=100)


class KillIn(BaseModel):
    reason: str = ""


class FlagList(BaseModel):
    items: list[FlagOut]
    next_cursor: str | None


class SegmentList(BaseModel):
    items: list[SegmentIn]
    next_cursor: str | None


def _page(keys: Sequence[str], cursor: str, limit: int) -> tuple[list[str], str | None]:
    """The keys after `cursor` (the last key of the page before), and the next cursor."""
    after = [key for key in sorted(keys) if key > cursor]
    page = after[:limit]
    return page, (page[-1] if len(after) > limit else None)


def create_flagpole(token: str) -> FastAPI:
    """A Flagpole service with empty stores, accepting `token`."""
    api = FastAPI(title="Flagpole")
    flags: dict[str, FlagOut] = {}
    segments: dict[str, SegmentIn] = {}

    def authorized(authorization: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "send Authorization: Bearer <token>")

    secured = [Depends(authorized)]

    def missing(kind: Literal["flag", "segment"], key: str) -> HTTPException:
        return HTTPException(404, f"no {kind} {key!r}")

    def flag(key: str) -> FlagOut:
        if key not in flags:
            raise missing("flag", key)
        return flags[key]

    def segment(key: str) -> SegmentIn:
        if key not in segments:
            raise missing("segment", key)
        return segments[key]

    @api.get("/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.post("/v1/flags", status_code=201, dependencies=secured)
    async def create_flag(body: FlagIn) -> FlagOut:
        if body.key in flags:
            raise HTTPException(409, f"flag {body.key!r} exists")
        flags[body.key] = FlagOut(**body.model_dump())
        return flags[body.key]

    @api.get("/v1/flags/{key}", dependencies=secured)
    async def read_flag(key: str) -> FlagOut:
        return flag(key)

    @api.patch("/v1/flags/{key}", dependencies=secured)
    async def update_flag(key: str, body: FlagPatch) -> FlagOut:
        changed = flag(key).model_copy(update=body.model_dump(exclude_none=True))
        flags[key] = changed
        return changed

    @api.delete("/v1/flags/{key}", status_code=204, dependencies=secured)
    async def delete_flag(key: str) -> Response:
        flag(key)
        del flags[key]
        return Response(status_code=204)

    @api.get("/v1/flags", dependencies=secured)
    async def list_flags(
        cursor: str = "", limit: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> FlagList:
        keys, next_cursor = _page(list(flags), cursor, limit)
        return FlagList(items=[flags[key] for key in keys], next_cursor=next_cursor)

    @api.post("/v1/flags/{key}/rollout", dependencies=secured)
    async def rollout(key: str, body: RolloutIn) -> FlagOut:
        found = flag(key)
        if found.killed:
            raise HTTPException(409, f"flag {key!r} is killed ({found.kill_reason or 'no reason'})")
        flags[key] = found.model_copy(update={"rollout": body.percentage})
        return flags[key]

    @api.post("/v1/flags/{key}/kill", dependencies=secured)
    async def kill(key: str, body: KillIn) -> FlagOut:
        update = {"killed": True, "rollout": 0, "kill_reason": body.reason}
        flags[key] = flag(key).model_copy(update=update)
        return flags[key]

    @api.post("/v1/segments", status_code=201, dependencies=secured)
    async def create_segment(body: SegmentIn) -> SegmentIn:
        if body.key in segments:
            raise HTTPException(409, f"segment {body.key!r} exists")
        segments[body.key] = body
        return body

    @api.get("/v1/segments/{key}", dependencies=secured)
    async def read_segment(key: str) -> SegmentIn:
        return segment(key)

    @api.patch("/v1/segments/{key}", dependencies=secured)
    async def update_segment(key: str, body: SegmentPatch) -> SegmentIn:
        changed = segment(key).model_copy(update=body.model_dump(exclude_none=True))
        segments[key] = changed
        return changed

    @api.delete("/v1/segments/{key}", status_code=204, dependencies=secured)
    async def delete_segment(key: str) -> Response:
        segment(key)
        del segments[key]
        return Response(status_code=204)

    @api.get("/v1/segments", dependencies=secured)
    async def list_segments(
        cursor: str = "", limit: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> SegmentList:
        keys, next_cursor = _page(list(segments), cursor, limit)
        return SegmentList(items=[segments[key] for key in keys], next_cursor=next_cursor)

    return api


def main(argv: Sequence[str] | None = None) -> int:
    """Run Flagpole on loopback under uvicorn until Ctrl-C."""
    import uvicorn

    parser = argparse.ArgumentParser(description="Flagpole, a feature-flag REST service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token", required=True, help="the bearer token callers must send")
    args = parser.parse_args(argv)
    uvicorn.run(create_flagpole(args.token), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
