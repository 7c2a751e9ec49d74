"""A recorded purchase and the breakdown of its points (also a preview's answer)."""

from __future__ import annotations

from typing import Any

import graphene


class Contribution(graphene.ObjectType):
    source = graphene.String(required=True)
    kind = graphene.String(required=True)
    description = graphene.String(required=True)
    points = graphene.String(required=True, description="Decimal: before rounding.")


class PointsBreakdown(graphene.ObjectType):
    points = graphene.BigInt(required=True)
    rule_points = graphene.BigInt(required=True)
    campaign_points = graphene.BigInt(required=True)
    contributions = graphene.List(graphene.NonNull(Contribution), required=True)


def breakdown_view(details: dict[str, Any], total: int | None = None) -> PointsBreakdown:
    campaign = sum(int(v) for v in details.get("campaign_points", {}).values())
    return PointsBreakdown(
        points=total if total is not None else details["rule_points"] + campaign,
        rule_points=details["rule_points"],
        campaign_points=campaign,
        contributions=[
            Contribution(**{k: c[k] for k in ("source", "kind", "description", "points")})
            for c in details.get("contributions", [])
        ],
    )


class PurchaseView(graphene.ObjectType):
    external_id = graphene.String(required=True)
    points = graphene.BigInt(required=True)
    balance_after = graphene.BigInt()
    rule_version = graphene.Int()
    breakdown = graphene.Field(PointsBreakdown, required=True)
