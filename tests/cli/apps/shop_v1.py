"""A small app, version 1, for `compare` and the other command tests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

import tempest_sdk as tempest

app = tempest.App("shop", "v1")


class OrderProperties(BaseModel):
    item: str = Field(title="Item")
    quantity: int = Field(title="Quantity")
    note: str = Field("", title="Note")


class CreateOrder(BaseModel):
    item: str = Field("apple", title="Item")
    quantity: int = Field(1, ge=1, title="Quantity")


class Refund(BaseModel):
    reason: Literal["damaged", "late", "other"] = "other"


class RefundResult(BaseModel):
    refunded: bool


order = app.resource(
    "order",
    display_name="Order",
    description="An order in the shop.",
    properties=OrderProperties,
    lifecycle_stage="operate",
)


@order.create
async def create(ctx: tempest.Context, input: CreateOrder) -> tempest.Resource:
    return tempest.Resource(
        external_id="order-1",
        display_name=f"{input.quantity} x {input.item}",
        properties={"item": input.item, "quantity": input.quantity, "note": ""},
    )


@order.read
def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
    if resource.external_id != "order-1":
        raise tempest.ResourceNotFoundError(f"no order {resource.external_id!r}")
    return tempest.Resource(
        external_id="order-1",
        display_name="1 x apple",
        properties={"item": "apple", "quantity": 1, "note": ""},
    )


@order.delete
async def delete(ctx: tempest.Context, resource: tempest.Resource) -> None:
    return None


@order.action("refund", display_name="Refund", description="Refund the order.")
async def refund(ctx: tempest.Context, resource: tempest.Resource, input: Refund) -> RefundResult:
    if ctx.env.get("FAIL_REFUNDS") == "1":
        raise RuntimeError("refunds are switched off")
    return RefundResult(refunded=True)
