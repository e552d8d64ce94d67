"""What the feature-flags app needs of Flagpole (`FlagsApi`), and the HTTP client for it.

`FlagsApi` is a `Protocol`: the app's handlers take it by that type, the lifespan gives
them a `FlagsClient` (one `httpx.AsyncClient` for every task), and a test may swap in
any object with the same methods (`app.overriding(FlagsApi, fake)`).
"""

# pyright: strict

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

_Item = TypeVar("_Item", "Flag", "Segment")


class Flag(BaseModel):
    """A flag as Flagpole keeps it."""

    key: str
    name: str
    description: str = ""
    segment: str = ""
    rollout: int = 0
    killed: bool = False
    kill_reason: str = ""


class Segment(BaseModel):
    """A segment of users, by a targeting rule."""

    key: str
    name: str
    rule: str = ""


class Listing(BaseModel, Generic[_Item]):
    """One page of a list; `next_cursor` is None on the last."""

    items: list[_Item]
    next_cursor: str | None = None


class FlagsError(Exception):
    """Flagpole refused a call; `status` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FlagsApi(Protocol):
    """The calls the app makes to Flagpole."""

    async def ping(self) -> None: ...

    async def create_flag(self, flag: Flag) -> Flag: ...

    async def get_flag(self, key: str) -> Flag: ...

    async def update_flag(self, key: str, changes: dict[str, str]) -> Flag: ...

    async def delete_flag(self, key: str) -> None: ...

    async def list_flags(self, cursor: str, limit: int) -> Listing[Flag]: ...

    async def rollout(self, key: str, percentage: int) -> Flag: ...

    async def kill(self, key: str, reason: str) -> Flag: ...

    async def create_segment(self, segment: Segment) -> Segment: ...

    async def get_segment(self, key: str) -> Segment: ...

    async def update_segment(self, key: str, changes: dict[str, str]) -> Segment: ...

    async def delete_segment(self, key: str) -> None: ...

    async def list_segments(self, cursor: str, limit: int) -> Listing[Segment]: ...


def _path(key: str) -> str:
    # An external id comes from Tempest: quoted, it can never reach another route.
    return quote(key, safe="")


class FlagsClient:
    """`FlagsApi` over HTTP: every call goes through the one `httpx.AsyncClient` given.

    The client carries Flagpole's base URL, token and timeouts (the app's lifespan
    builds it from the settings); this class only shapes requests and reads answers.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise FlagsError(
                503, f"Flagpole is unreachable at {self._http.base_url}: {exc}"
            ) from None
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", response.text))
            except ValueError:
                detail = response.text
            raise FlagsError(response.status_code, detail)
        return response.json() if response.content else None

    async def ping(self) -> None:
        await self._call("GET", "/v1/health")

    async def create_flag(self, flag: Flag) -> Flag:
        fields = flag.model_dump(include={"key", "name", "description", "segment"})
        return Flag.model_validate(await self._call("POST", "/v1/flags", fields))

    async def get_flag(self, key: str) -> Flag:
        return Flag.model_validate(await self._call("GET", f"/v1/flags/{_path(key)}"))

    async def update_flag(self, key: str, changes: dict[str, str]) -> Flag:
        return Flag.model_validate(
            await self._call("PATCH", f"/v1/flags/{_path(key)}", dict(changes))
        )

    async def delete_flag(self, key: str) -> None:
        await self._call("DELETE", f"/v1/flags/{_path(key)}")

    async def list_flags(self, cursor: str, limit: int) -> Listing[Flag]:
        path = f"/v1/flags?{httpx.QueryParams(cursor=cursor, limit=limit)}"
        return Listing[Flag].model_validate(await self._call("GET", path))

    async def rollout(self, key: str, percentage: int) -> Flag:
        body = {"percentage": percentage}
        return Flag.model_validate(
            await self._call("POST", f"/v1/flags/{_path(key)}/rollout", body)
        )

    async def kill(self, key: str, reason: str) -> Flag:
        body = {"reason": reason}
        return Flag.model_validate(await self._call("POST", f"/v1/flags/{_path(key)}/kill", body))

    async def create_segment(self, segment: Segment) -> Segment:
        return Segment.model_validate(
            await self._call("POST", "/v1/segments", segment.model_dump())
        )

    async def get_segment(self, key: str) -> Segment:
        return Segment.model_validate(await self._call("GET", f"/v1/segments/{_path(key)}"))

    async def update_segment(self, key: str, changes: dict[str, str]) -> Segment:
        body = dict(changes)
        return Segment.model_validate(await self._call("PATCH", f"/v1/segments/{_path(key)}", body))

    async def delete_segment(self, key: str) -> None:
        await self._call("DELETE", f"/v1/segments/{_path(key)}")

    async def list_segments(self, cursor: str, limit: int) -> Listing[Segment]:
        path = f"/v1/segments?{httpx.QueryParams(cursor=cursor, limit=limit)}"
        return Listing[Segment].model_validate(await self._call("GET", path))
