from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from pydantic import BaseModel, SecretStr

import tempest_sdk as tempest

app = tempest.App("vault", "v1")
log = logging.getLogger("vault")


class Settings(BaseModel):
    """The app's own credentials: `SecretStr`, so the SDK masks them."""

    admin_token: SecretStr


@app.lifespan
async def settings() -> AsyncIterator[Settings]:
    yield Settings(admin_token=SecretStr("admin-token-from-env"))


class Props(BaseModel):
    name: str


secret = app.resource(
    "secret",
    display_name="Secret",
    description="A vault secret.",
    properties=Props,
)


async def fetch_session(token: str) -> str:
    # Stands for a call that hands back a new credential.
    return f"session-for-{token}"


@secret.create
async def create(ctx: tempest.Context, input: Props) -> tempest.Resource:
    api_key = ctx.env.secret("API_KEY")  # a Tempest secret: masked already
    # A credential the SDK cannot know of until you say so:
    session = ctx.mask(await fetch_session(api_key))
    log.info("opened session %s", session)  # written as **********
    return tempest.Resource(
        external_id=input.name, display_name=input.name, properties=input
    )
