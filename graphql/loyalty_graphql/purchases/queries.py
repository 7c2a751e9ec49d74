"""What a receipt would earn, without recording it."""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_graphql.base import PARTNER, require
from loyalty_graphql.purchases.inputs import ReceiptInput, receipt_from
from loyalty_graphql.purchases.types import PointsBreakdown, breakdown_view
from tenants.purchases import services as purchases


class PurchaseQueries(graphene.ObjectType):
    purchase_preview = graphene.Field(PointsBreakdown, receipt=ReceiptInput(required=True))

    @staticmethod
    def resolve_purchase_preview(root: Any, info: Any, receipt: Any) -> PointsBreakdown:
        require(info, PARTNER, "earn")
        breakdown = purchases.purchase_preview(receipt_from(receipt))
        return breakdown_view(breakdown.as_dict(), breakdown.total)
