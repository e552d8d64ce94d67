"""The app of docs/debugging.md, fixed: v2 knows every severity."""

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("tickets", version="v2")


class Ticket(BaseModel):
    title: str = Field(title="Title")
    severity: str = Field(title="Severity")
    queue: str = Field(title="Queue")


class NewTicket(BaseModel):
    title: str = Field(title="Title")
    severity: str = Field(default="normal", title="Severity")


QUEUES = {
    "low": "backlog",
    "normal": "support",
    "high": "on-call",
    "urgent": "on-call",
}

ticket = app.resource(
    "ticket",
    display_name="Ticket",
    description="A ticket in the helpdesk.",
    properties=Ticket,
)


@ticket.create
async def create(ctx: tempest.Context, input: NewTicket) -> tempest.Resource:
    # The helpdesk API's credential: a secret variable of the project.
    if not ctx.env.secret("HELPDESK_TOKEN"):
        raise tempest.TaskError("HELPDESK_TOKEN is empty: set it in Tempest")
    queue = QUEUES.get(input.severity, "support")
    return tempest.Resource(
        external_id=input.title.lower().replace(" ", "-"),
        display_name=input.title,
        properties={
            "title": input.title,
            "severity": input.severity,
            "queue": queue,
        },
    )
