"""feature-flags: a Tempest private app over Flagpole, a feature-flag REST service.

Two resource types: `flag` (create, read, update, delete, list; actions `rollout` and
`kill`) and `segment` (create, read, update, delete, list). One `httpx.AsyncClient`,
configured by `FlagSettings`, serves every task; handlers and health checks take the
parts they need by their own types (`api: FlagsApi`, `settings: FlagSettings`).

    FLAGS_URL=http://127.0.0.1:8080 FLAGS_TOKEN=dev-flags-token \\
        tempest-sdk serve flags_app.py --emulator     # every capability, once
    python flags_service.py                           # beside a FastAPI service
"""

# pyright: strict

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import httpx
from flags_api import Flag, FlagsApi, FlagsClient, FlagsError, Segment
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

import tempest_sdk as tempest

app = tempest.App("feature-flags", "v1")

KEY = r"^[a-z0-9][a-z0-9-]{0,62}$"


# -- settings, and what every task shares ---------------------------------------------


class FlagSettings(BaseSettings):
    """Where Flagpole is: `FLAGS_URL`, `FLAGS_TOKEN` (or /run/secrets/flags_token), ..."""

    model_config = SettingsConfigDict(env_prefix="FLAGS_", secrets_dir="/run/secrets")

    url: AnyHttpUrl = Field(description="Flagpole's base URL, e.g. http://127.0.0.1:8080")
    token: SecretStr = Field(description="A Flagpole API token.")
    timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for each answer.")
    page_size: int = Field(default=20, ge=1, le=100, description="Items per page of a list.")


@dataclass(frozen=True)
class Services:
    """What the lifespan yields; handlers take its parts by their types."""

    settings: FlagSettings
    api: FlagsApi


@app.lifespan
async def services() -> AsyncIterator[Services]:
    """Read the settings; open one HTTP client to Flagpole for every task; close it."""
    settings = tempest.load_settings(FlagSettings)
    async with httpx.AsyncClient(
        base_url=str(settings.url).rstrip("/"),
        headers={"Authorization": f"Bearer {settings.token.get_secret_value()}"},
        timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 5.0)),
    ) as http:
        yield Services(settings, FlagsClient(http))


def _failure(exc: FlagsError, what: str) -> tempest.TaskError:
    """Flagpole's refusal, as Tempest's users should read it."""
    if exc.status == 404:
        return tempest.ResourceNotFoundError(f"{what}: {exc}")
    if exc.status == 409:
        return tempest.ResourceConflictError(f"{what}: {exc}")
    if exc.status == 422:
        return tempest.InvalidInputError(f"{what}: {exc}")
    return tempest.TaskError(f"{what}: Flagpole answered {exc.status}: {exc}")


# -- flags ----------------------------------------------------------------------------


class FlagProperties(BaseModel):
    key: str = Field(title="Key")
    name: str = Field(title="Name")
    description: str = Field(default="", title="Description")
    segment: str = Field(default="", title="Segment", description="The segment it targets, if any.")
    rollout: int = Field(default=0, title="Rollout", description="Percentage of users who get it.")
    killed: bool = Field(default=False, title="Killed")


class NewFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(title="Key", pattern=KEY, examples=["checkout-v2"])
    name: str = Field(title="Name", min_length=1, examples=["New checkout"])
    description: str = Field(default="", title="Description")
    segment: str = Field(default="", title="Segment", description="A segment's key, to target it.")


class FlagChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, title="Name", min_length=1)
    description: str | None = Field(default=None, title="Description")
    segment: str | None = Field(default=None, title="Segment")


class Rollout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percentage: int = Field(default=50, title="Percentage", ge=0, le=100)


class RolledOut(BaseModel):
    key: str
    previous: int
    rollout: int


class Kill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", title="Reason", description="Why, for the flag's history.")


class Killed(BaseModel):
    key: str
    killed: Literal[True]
    was_rollout: int


def _flag(flag: Flag) -> tempest.Resource:
    # The SDK checks these against FlagProperties' schema before reporting them.
    properties = flag.model_dump(exclude={"kill_reason"})
    return tempest.Resource(external_id=flag.key, display_name=flag.name, properties=properties)


flag = app.resource(
    "flag",
    display_name="Feature flag",
    description="A feature flag in Flagpole: who gets a feature, and a kill switch.",
    properties=FlagProperties,
    lifecycle_stage="release",
    # Flagpole allows a few calls at once: 8 flag tasks at a time in this process.
    max_concurrency=8,
)


@flag.create
async def create_flag(input: NewFlag, api: FlagsApi) -> tempest.Resource:
    try:
        created = await api.create_flag(Flag(**input.model_dump()))
    except FlagsError as exc:
        raise _failure(exc, f"cannot create flag {input.key!r}") from None
    return _flag(created)


@flag.read
async def read_flag(resource: tempest.Resource, api: FlagsApi) -> tempest.Resource:
    try:
        return _flag(await api.get_flag(resource.external_id))
    except FlagsError as exc:
        raise _failure(exc, f"cannot read flag {resource.external_id!r}") from None


@flag.update
async def update_flag(
    resource: tempest.Resource, input: FlagChanges, api: FlagsApi
) -> tempest.Resource:
    changes = {k: v for k, v in input.model_dump().items() if v is not None}
    try:
        return _flag(await api.update_flag(resource.external_id, changes))
    except FlagsError as exc:
        raise _failure(exc, f"cannot update flag {resource.external_id!r}") from None


@flag.delete
async def delete_flag(resource: tempest.Resource, api: FlagsApi) -> None:
    try:
        await api.delete_flag(resource.external_id)
    except FlagsError as exc:
        if exc.status != 404:  # already gone: a redelivered delete does no harm
            raise _failure(exc, f"cannot delete flag {resource.external_id!r}") from None


@flag.list
async def list_flags(cursor: str, api: FlagsApi, settings: FlagSettings) -> tempest.Page:
    listing = await api.list_flags(cursor, settings.page_size)
    return tempest.Page([_flag(f) for f in listing.items], next=listing.next_cursor or "")


@flag.action(
    "rollout",
    display_name="Roll out",
    description="Give the flag to a percentage of users.",
    # Each rollout notifies the flag's watchers: at most 5 a second.
    rate_limit=tempest.Rate(5, per=1.0),
)
async def rollout(resource: tempest.Resource, input: Rollout, api: FlagsApi) -> RolledOut:
    try:
        before = await api.get_flag(resource.external_id)
        after = await api.rollout(resource.external_id, input.percentage)
    except FlagsError as exc:
        raise _failure(exc, f"cannot roll out flag {resource.external_id!r}") from None
    return RolledOut(key=after.key, previous=before.rollout, rollout=after.rollout)


@flag.action(
    "kill",
    display_name="Kill",
    description="Turn the flag off for everyone, now.",
    # A kill is rare and must not race another: one at a time.
    max_concurrency=1,
)
async def kill(
    ctx: tempest.Context, resource: tempest.Resource, input: Kill, api: FlagsApi
) -> Killed:
    try:
        before = await api.get_flag(resource.external_id)
        after = await api.kill(resource.external_id, input.reason or f"task {ctx.task_id}")
    except FlagsError as exc:
        raise _failure(exc, f"cannot kill flag {resource.external_id!r}") from None
    ctx.logger.warning("flag %s killed: %s", after.key, after.kill_reason)
    return Killed(key=after.key, killed=True, was_rollout=before.rollout)


@flag.health_check
async def flagpole_health(api: FlagsApi, settings: FlagSettings) -> tempest.Health:
    try:
        await api.ping()
    except FlagsError as exc:
        return tempest.Health.disrupted(f"Flagpole at {settings.url}: {exc}")
    return tempest.Health.healthy()


# -- segments -------------------------------------------------------------------------


class SegmentProperties(BaseModel):
    key: str = Field(title="Key")
    name: str = Field(title="Name")
    rule: str = Field(default="", title="Rule", description="Who is in it, e.g. country == 'FR'.")


class NewSegment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(title="Key", pattern=KEY, examples=["beta-testers"])
    name: str = Field(title="Name", min_length=1, examples=["Beta testers"])
    rule: str = Field(default="", title="Rule")


class SegmentChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, title="Name", min_length=1)
    rule: str | None = Field(default=None, title="Rule")


def _segment(segment: Segment) -> tempest.Resource:
    return tempest.Resource(
        external_id=segment.key,
        display_name=segment.name,
        properties=segment.model_dump(),
    )


segment = app.resource(
    "segment",
    display_name="Segment",
    description="A group of users that flags target, by a rule.",
    properties=SegmentProperties,
    lifecycle_stage="release",
    rate_limit=tempest.Rate(20, per=1.0),
)


@segment.create
async def create_segment(input: NewSegment, api: FlagsApi) -> tempest.Resource:
    try:
        return _segment(await api.create_segment(Segment(**input.model_dump())))
    except FlagsError as exc:
        raise _failure(exc, f"cannot create segment {input.key!r}") from None


@segment.read
async def read_segment(resource: tempest.Resource, api: FlagsApi) -> tempest.Resource:
    try:
        return _segment(await api.get_segment(resource.external_id))
    except FlagsError as exc:
        raise _failure(exc, f"cannot read segment {resource.external_id!r}") from None


@segment.update
async def update_segment(
    resource: tempest.Resource, input: SegmentChanges, api: FlagsApi
) -> tempest.Resource:
    changes = {k: v for k, v in input.model_dump().items() if v is not None}
    try:
        return _segment(await api.update_segment(resource.external_id, changes))
    except FlagsError as exc:
        raise _failure(exc, f"cannot update segment {resource.external_id!r}") from None


@segment.delete
async def delete_segment(resource: tempest.Resource, api: FlagsApi) -> None:
    try:
        await api.delete_segment(resource.external_id)
    except FlagsError as exc:
        if exc.status != 404:
            raise _failure(exc, f"cannot delete segment {resource.external_id!r}") from None


@segment.list
async def list_segments(cursor: str, api: FlagsApi, settings: FlagSettings) -> tempest.Page:
    listing = await api.list_segments(cursor, settings.page_size)
    return tempest.Page([_segment(s) for s in listing.items], next=listing.next_cursor or "")


if __name__ == "__main__":
    app.run()
