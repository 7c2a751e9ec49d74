"""A member donates points to a charity."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.charity.services import donation_make
from loyalty_graphql.base import MEMBER, Call, LoyaltyMutation, member_id_of


class DonatePoints(LoyaltyMutation):
    class Arguments:
        charity = graphene.String(required=True)
        points = graphene.BigInt(required=True)

    points = graphene.BigInt()
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        donation = donation_make(
            member_id=member_id_of(call.principal),
            charity_slug=args["charity"],
            points=args["points"],
            idempotency=call.idempotency,
        )
        return {"points": donation.points}
