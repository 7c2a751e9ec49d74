"""A partner's points adjustment over the API (scope ``adjust``): add points to a
member's wallet or take points back, with a reason, within the partner's daily
cap. The rules are ``coalition.adjustments``'."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.adjustments import services as adjustments
from coalition.adjustments.selectors import cap_today
from loyalty_graphql.base import Call, LoyaltyMutation
from loyalty_graphql.members.inputs import member_by_number
from loyalty_kernel.tenancy import current_tenant


class AdjustmentView(graphene.ObjectType):
    member_number = graphene.String(required=True)
    points = graphene.BigInt(
        required=True, description="Points added (positive) or taken back (negative)."
    )
    reason = graphene.String(required=True)
    balance_after = graphene.BigInt(required=True, description="The member's balance after it.")
    transaction_id = graphene.ID(
        required=True, description="The ledger transaction (see the member's history)."
    )
    cap_left_today = graphene.BigInt(
        required=True,
        description="Points the partner may still adjust today (its local day), "
        "added and taken back alike.",
    )


class AdjustPoints(LoyaltyMutation):
    """Add points to a member (goodwill, or a correction of points forgotten) with a
    positive ``points``, or take points back (a correction) with a negative one. The
    partner pays for points added like points issued, and is credited for points
    taken back like a return; it takes back only points it issued itself, never
    another partner's. Refusals: ADJUSTMENT_REASON_MISSING,
    ADJUSTMENT_POINTS_INVALID, ADJUSTMENT_CAP_REACHED, ADJUSTMENT_EXCEEDS_BALANCE
    (more than the member holds of the points the partner issued), UNKNOWN_MEMBER,
    MEMBER_NOT_ACTIVE."""

    class Arguments:
        member_number = graphene.String(required=True)
        points = graphene.BigInt(required=True)
        reason = graphene.String(required=True)

    adjustment = graphene.Field(AdjustmentView)
    scope = "adjust"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        partner = current_tenant()
        member = member_by_number(args["member_number"])
        result = adjustments.adjust_points(
            partner=partner,
            member=member,
            points=args["points"],
            reason=args["reason"],
            actor=f"API key {call.principal.key_id}",
            idempotency=call.idempotency,
        )
        record = result.adjustment
        return {
            "adjustment": AdjustmentView(
                member_number=member.member_number,
                points=record.points,
                reason=record.reason,
                balance_after=record.balance_after,
                transaction_id=str(record.ledger_transaction_id),
                cap_left_today=cap_today(partner).left,
            )
        }
