"""A member gives points to another member or pools them in the household."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.ledger.selectors import balance
from coalition.transfers.services import household_pool, points_transfer
from loyalty_graphql.base import MEMBER, Call, LoyaltyMutation, member_id_of
from loyalty_graphql.members.inputs import member_by_number


class TransferPoints(LoyaltyMutation):
    """Give points to another member (yearly caps per tier apply)."""

    class Arguments:
        to_member_number = graphene.String(required=True)
        points = graphene.BigInt(required=True)

    balance_after = graphene.BigInt()
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        record = points_transfer(
            from_member_id=member_id_of(call.principal),
            to_member_id=member_by_number(args["to_member_number"]).pk,
            points=args["points"],
            idempotency=call.idempotency,
        )
        return {"balance_after": balance(record.from_member_id)}


class PoolToHousehold(LoyaltyMutation):
    class Arguments:
        points = graphene.BigInt(required=True)

    points = graphene.BigInt()
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        record = household_pool(
            member_id=member_id_of(call.principal),
            points=args["points"],
            idempotency=call.idempotency,
        )
        return {"points": record.points}
