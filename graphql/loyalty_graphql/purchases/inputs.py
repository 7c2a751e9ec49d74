"""Receipts and returned lines as partner apps send them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import graphene

from tenants.purchases import services as purchases

MAX_RECEIPT_LINES = 500


class ReceiptLineInput(graphene.InputObjectType):
    sku = graphene.String(required=True)
    category = graphene.String(required=True)
    quantity = graphene.Int(required=True)
    unit_price = graphene.BigInt(required=True, description="Minor units.")
    discount = graphene.BigInt(description="Minor units, for the whole line.")


class ReceiptInput(graphene.InputObjectType):
    external_id = graphene.String(required=True)
    member_number = graphene.String(required=True)
    occurred_at = graphene.DateTime(required=True)
    currency = graphene.String(required=True)
    total = graphene.BigInt(required=True, description="Minor units.")
    tax = graphene.BigInt()
    tip = graphene.BigInt()
    paid_with_points = graphene.BigInt(description="Minor units of the total paid with points.")
    channel = graphene.String()
    store_code = graphene.String()
    lines = graphene.List(graphene.NonNull(ReceiptLineInput), required=True)


class ReturnLineInput(graphene.InputObjectType):
    line_number = graphene.Int(required=True)
    quantity = graphene.Int(required=True)


def receipt_from(data: Any) -> purchases.Receipt:
    if len(data.lines) > MAX_RECEIPT_LINES:
        raise ValueError(f"a receipt has at most {MAX_RECEIPT_LINES} lines")
    occurred_at: datetime = data.occurred_at
    return purchases.Receipt(
        external_id=data.external_id,
        member_id=None,
        member_number=data.member_number,
        occurred_at=occurred_at,
        currency=data.currency.upper(),
        lines=tuple(
            purchases.ReceiptLine(
                line.sku, line.category, line.quantity, line.unit_price, line.discount or 0
            )
            for line in data.lines
        ),
        total=data.total,
        tax=data.tax or 0,
        tip=data.tip or 0,
        paid_with_points=data.paid_with_points or 0,
        channel=data.channel or "pos",
        store_code=data.store_code,
    )


def returned_lines(lines: Any) -> dict[int, int]:
    """Quantities per line number; a line named twice adds up."""
    quantities: dict[int, int] = {}
    for line in lines:
        quantities[line.line_number] = quantities.get(line.line_number, 0) + line.quantity
    return quantities
