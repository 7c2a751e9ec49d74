"""Recording a purchase and returning some of its lines (partner apps)."""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_graphql.base import Call, LoyaltyMutation, Replay
from loyalty_graphql.purchases.inputs import (
    ReceiptInput,
    ReturnLineInput,
    receipt_from,
    returned_lines,
)
from loyalty_graphql.purchases.types import PurchaseView, breakdown_view
from tenants.purchases import services as purchases


class RecordPurchase(LoyaltyMutation):
    """Record a receipt and award its points with the rules in force when it happened."""

    class Arguments:
        receipt = ReceiptInput(required=True)

    purchase = graphene.Field(PurchaseView)
    scope = "earn"
    # The hot path: the purchase row keeps the key, fingerprint and original
    # result (balance after included), and the service replays them itself.
    replay = Replay.BY_SERVICE

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        result = purchases.purchase_record(
            receipt_from(args["receipt"]), idempotency=call.idempotency
        )
        return {
            "purchase": PurchaseView(
                external_id=result.external_id,
                points=result.points,
                balance_after=result.balance_after,
                rule_version=result.rule_version,
                breakdown=breakdown_view(result.breakdown, result.points),
            )
        }


class ReturnPurchase(LoyaltyMutation):
    """Return lines of a purchase: their share of the points is reversed."""

    class Arguments:
        external_id = graphene.String(required=True)
        lines = graphene.List(graphene.NonNull(ReturnLineInput), required=True)

    points_reversed = graphene.BigInt()
    shortfall = graphene.BigInt()
    scope = "earn"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        result = purchases.purchase_return(
            external_id=args["external_id"],
            lines=returned_lines(args["lines"]),
            idempotency=call.idempotency,
        )
        return {"points_reversed": result.points_reversed, "shortfall": result.shortfall}
