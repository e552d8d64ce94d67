from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("helloworld", "v1")


class Color(BaseModel):
    color: str = Field(default="red", title="Color", description="The color.")


example = app.resource(
    "example",
    display_name="Example Resource",
    description="An example resource.",
    properties=Color,
    lifecycle_stage="code",
)


@example.create
async def create(ctx: tempest.Context, input: Color) -> tempest.Resource:
    ctx.logger.info("creating a %s example", input.color)
    return tempest.Resource(
        external_id="example-1", display_name="Example", properties=input
    )


if __name__ == "__main__":
    app.run()  # reads TEMPEST_TOKEN; serves until SIGINT or SIGTERM
