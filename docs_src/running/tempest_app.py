from __future__ import annotations

import anyio
from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("greetings", "v1")


class GreetingProperties(BaseModel):
    text: str = Field(title="Text")


class NewGreeting(BaseModel):
    name: str = Field(title="Name", description="Who to greet.")


class PauseInput(BaseModel):
    seconds: float = Field(default=1.0, title="Seconds", ge=0, le=60)


class PauseOutput(BaseModel):
    seconds: float = Field(title="Seconds")


greeting = app.resource(
    "greeting",
    display_name="Greeting",
    description="A greeting for someone.",
    properties=GreetingProperties,
    lifecycle_stage="operate",
)


@greeting.create
async def create(input: NewGreeting) -> tempest.Resource:
    text = f"Hello, {input.name}!"
    return tempest.Resource(
        external_id=f"greeting-{input.name.lower()}",
        display_name=text,
        properties={"text": text},
    )


@greeting.action(
    "pause",
    display_name="Pause",
    description="Take a while, like a slow deploy.",
)
async def pause(input: PauseInput) -> PauseOutput:
    await anyio.sleep(input.seconds)
    return PauseOutput(seconds=input.seconds)
