from __future__ import annotations

from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("deployer", "v1")


class DeploymentProperties(BaseModel):
    service: str
    region: str


class Deploy(BaseModel):
    service: str


deployment = app.resource("deployment", properties=DeploymentProperties)


@deployment.create
async def create(ctx: tempest.Context, input: Deploy) -> tempest.Resource:
    region = ctx.env.get("REGION", "eu-west-1")  # a plain variable
    token = ctx.env.secret("DEPLOY_TOKEN")  # a secret, read on purpose
    if input.service.startswith("-"):
        raise tempest.InvalidInputError(
            f"service {input.service!r} cannot start with a dash"
        )
    if token != "valid-token":
        # The token's value is masked in the report and the log: "**********".
        raise PermissionError(f"token {token} was refused")
    ctx.logger.info(
        "deploying %s for %s", input.service, ctx.metadata.project_name
    )
    return tempest.Resource(
        external_id=f"{input.service}-{region}",
        display_name=input.service,
        properties={"service": input.service, "region": region},
    )
