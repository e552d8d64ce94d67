"""The app that docs/emulator.md's end-to-end test imports as `myapp`."""

from pydantic import BaseModel

import tempest_sdk as tempest


class Color(BaseModel):
    color: str = "red"


app = tempest.App("helloworld", "v1")
example = app.resource(
    "example",
    display_name="Example",
    description="An example.",
    lifecycle_stage="code",
    properties=Color,
)


@example.create
async def create(input: Color) -> tempest.Resource:
    return tempest.Resource(
        external_id="ex-1", display_name="Ex 1", properties=input.model_dump()
    )
