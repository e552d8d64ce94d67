from __future__ import annotations

from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("deployer", "v2")


class DeploymentProperties(BaseModel):
    service: str


class Deploy(BaseModel):
    service: str


class RolledBack(BaseModel):
    release: str


# The deployment platform allows a few calls a second: at most 2 deployment
# tasks run at once in this process, and they start no faster than 5 a second.
deployment = app.resource(
    "deployment",
    properties=DeploymentProperties,
    timeout=120,
    max_concurrency=2,
    rate_limit=tempest.Rate(5, per=1.0),
)


@deployment.create
async def create(input: Deploy) -> tempest.Resource:
    return tempest.Resource(
        external_id=input.service,
        display_name=input.service,
        properties={"service": input.service},
    )


# A rollback restarts every instance: one at a time, and at most 10 an hour.
@deployment.action(
    "rollback",
    description="Roll back to the previous release.",
    max_concurrency=1,
    rate_limit=tempest.Rate(10, per=3600),
)
async def rollback(resource: tempest.Resource) -> RolledBack:
    return RolledBack(release=f"{resource.external_id}@previous")
