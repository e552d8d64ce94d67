from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

import tempest_sdk as tempest

app = tempest.App("printers", "v1")


class Printer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(title="Model")
    location: str = Field(title="Location")


class Move(BaseModel):
    location: str = Field(title="Location", min_length=1)


class TestPage(BaseModel):
    copies: int = Field(default=1, title="Copies", ge=1, le=10)


class Printed(BaseModel):
    pages: int = Field(title="Pages printed")
    requested_by: str = Field(title="Requested by")


printer = app.resource(
    "printer",
    display_name="Printer",
    description="A network printer.",
    properties=Printer,
    lifecycle_stage=tempest.LifecycleStage.OPERATE,
    links=[tempest.Link.documentation("https://printers.example.com")],
)

# The "external system". A real app calls it with a client from its lifespan.
PRINTERS = {"p-1": Printer(model="LaserJet 4", location="HQ, floor 2")}


def as_resource(external_id: str) -> tempest.Resource:
    found = PRINTERS.get(external_id)
    if found is None:
        raise tempest.ResourceNotFoundError(f"no printer {external_id!r}")
    admin = f"https://printers.example.com/{external_id}"
    return tempest.Resource(
        external_id=external_id,
        display_name=f"{found.model} ({found.location})",
        properties=found,
        links=[tempest.Link.administration(admin)],
    )


@printer.read
async def read(resource: tempest.Resource) -> tempest.Resource:
    # OperationRequest.Resource is `resource`; return what was
    # OperationResponse.Resource.
    return as_resource(resource.external_id)


@printer.update
async def update(
    ctx: tempest.Context, resource: tempest.Resource, input: Move
) -> tempest.Resource:
    # OperationRequest.Metadata and .Environment: ctx.metadata, ctx.env.
    site = ctx.env.get("SITE", "HQ")
    ctx.logger.info("moved by %s", ctx.metadata.author.email)
    current = as_resource(resource.external_id).properties_as(Printer)
    location = f"{site}, {input.location}"
    PRINTERS[resource.external_id] = current.model_copy(
        update={"location": location}
    )
    return as_resource(resource.external_id)


@printer.list
async def list_printers(cursor: str) -> tempest.Page:
    # ListRequest.Next is `cursor`; a Page is the ListResponse.
    ids = sorted(PRINTERS)
    start = int(cursor) if cursor.isdigit() else 0
    end = start + 10
    return tempest.Page(
        resources=[as_resource(i) for i in ids[start:end]],
        next=str(end) if end < len(ids) else "",
    )


@printer.action(
    "print_test_page",
    display_name="Print a test page",
    description="Print a test page, to check the printer works.",
)
async def print_test_page(
    ctx: tempest.Context, resource: tempest.Resource, input: TestPage
) -> Printed:
    # ActionRequest.Input is `input`; ActionResponse.Output, the result.
    as_resource(resource.external_id)
    return Printed(pages=input.copies, requested_by=ctx.metadata.author.name)


@printer.health_check
async def health() -> tempest.Health:
    # HealthCheckResponse: Health.healthy(), .degraded(), .disrupted().
    if not PRINTERS:
        return tempest.Health.degraded("no printer is registered")
    return tempest.Health.healthy()
