"""Version 2 of the shop app: some changes break users, some do not."""

from __future__ import annotations

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("shop", "v2")


class OrderProperties(BaseModel):
    item: str = Field(title="Item")
    quantity: float = Field(title="Quantity")  # type changed: breaking
    # `note` removed: breaking


class CreateOrder(BaseModel):
    item: str = Field(title="Item")  # now required: breaking
    quantity: int = Field(1, ge=1, title="Quantity")
    gift: bool = Field(False, title="Gift")  # optional field added: not breaking


order = app.resource(
    "order",
    display_name="Order",
    description="An order in the shop.",
    properties=OrderProperties,
    lifecycle_stage="operate",
)


@order.create
async def create(ctx: tempest.Context, input: CreateOrder) -> tempest.Resource:
    return tempest.Resource(external_id="order-1", display_name=input.item)


@order.read
async def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
    return resource


@order.list
async def list_orders(ctx: tempest.Context, cursor: str) -> tempest.Page:
    return tempest.Page(resources=[])


# `delete` and the `refund` action are gone: breaking.
