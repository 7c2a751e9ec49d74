"""Behavioural awards and referrals (partner apps)."""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_graphql.base import Call, LoyaltyMutation
from loyalty_graphql.members.inputs import member_by_number
from tenants.earning.services import behaviour_award, referral_record


class AwardBehaviour(LoyaltyMutation):
    """Award a behavioural event (sign-up, review, newsletter, profile completion,
    birthday) as often as this partner's rule allows."""

    class Arguments:
        member_number = graphene.String(required=True)
        event = graphene.String(required=True)
        reference = graphene.String()

    points = graphene.BigInt()
    scope = "earn"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        # The award slot (member, event, period, n) is unique: a retry cannot award
        # twice; it answers AWARD_LIMIT_REACHED once the allowance is used.
        result = behaviour_award(
            member_id=member_by_number(args["member_number"]).pk,
            event=args["event"],
            reference=args.get("reference") or call.key or "",
        )
        return {"points": result.points}


class RecordReferral(LoyaltyMutation):
    """Record a referral; both members earn if it passes the fraud checks, and a
    refused one is recorded with its reason."""

    class Arguments:
        referrer_number = graphene.String(required=True)
        referee_number = graphene.String(required=True)

    accepted = graphene.Boolean()
    reason = graphene.String()
    referrer_points = graphene.BigInt()
    referee_points = graphene.BigInt()
    scope = "earn"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        result = referral_record(
            referrer_id=member_by_number(args["referrer_number"]).pk,
            referee_id=member_by_number(args["referee_number"]).pk,
        )
        return {
            "accepted": result.accepted,
            "reason": result.reason or None,
            "referrer_points": result.referrer_points,
            "referee_points": result.referee_points,
        }
