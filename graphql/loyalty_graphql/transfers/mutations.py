"""A member gives points to another member or pools them in the household."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.ledger.selectors import balance
from coalition.transfers.errors import UnknownRecipient
from coalition.transfers.selectors import member_household
from coalition.transfers.services import (
    household_create,
    household_invite,
    household_invite_accept,
    household_leave,
    household_pool,
    points_transfer,
    transfer_recipient,
)
from loyalty_graphql.base import MEMBER, Call, LoyaltyMutation, member_id_of
from loyalty_graphql.members.inputs import member_by_number
from loyalty_graphql.transfers.types import HouseholdInviteView, HouseholdView

HOUSEHOLD_PAGE = "/portal/household/"


class TransferPoints(LoyaltyMutation):
    """Give points to another member named by member number or e-mail address
    (exactly one; yearly caps per tier apply: see myTransferAllowance)."""

    class Arguments:
        to_member_number = graphene.String()
        to_email = graphene.String(
            description="Unknown, blocked and erased addresses all answer UNKNOWN_RECIPIENT."
        )
        points = graphene.BigInt(required=True)

    balance_after = graphene.BigInt()
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        sender_id = member_id_of(call.principal)
        number, email = args.get("to_member_number"), args.get("to_email")
        if number is not None and email is None:
            to_member_id = member_by_number(number).pk
        elif email is not None and number is None:
            to_member_id = transfer_recipient(sender_id=sender_id, query=email).pk
        else:
            raise UnknownRecipient("Give either toMemberNumber or toEmail", field="to_email")
        record = points_transfer(
            from_member_id=sender_id,
            to_member_id=to_member_id,
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


def _my_household(member_id: int) -> HouseholdView | None:
    mine = member_household(member_id=member_id)
    return HouseholdView.of(mine) if mine is not None else None


class _HouseholdChange(LoyaltyMutation):
    """A member changes their own household (``change``): answers the household
    as it is afterwards."""

    class Meta:
        abstract = True

    household = graphene.Field(HouseholdView)
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        member_id = member_id_of(call.principal)
        cls.change(member_id, args)
        return {"household": _my_household(member_id)}

    @classmethod
    def change(cls, member_id: int, args: dict[str, Any]) -> None:
        raise NotImplementedError


class CreateHousehold(_HouseholdChange):
    """Start a household; the caller becomes its head (the pooled wallet)."""

    class Arguments:
        name = graphene.String(required=True)

    @classmethod
    def change(cls, member_id: int, args: dict[str, Any]) -> None:
        household_create(head_member_id=member_id, name=args["name"])


class InviteToHousehold(LoyaltyMutation):
    """The head invites an e-mail address; the invitation is e-mailed whether or not
    the address is enrolled, and the answer is the same either way."""

    class Arguments:
        email = graphene.String(required=True)

    invite = graphene.Field(HouseholdInviteView)
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        invite = household_invite(
            member_id=member_id_of(call.principal),
            email=args["email"],
            invite_url=call.info.context.build_absolute_uri(HOUSEHOLD_PAGE),
        )
        return {"invite": HouseholdInviteView.of(invite)}


class AcceptHouseholdInvite(_HouseholdChange):
    """Join the household of an invitation sent to the caller's address (once,
    before it expires; see myHouseholdInvites)."""

    class Arguments:
        invite = graphene.ID(required=True)

    @classmethod
    def change(cls, member_id: int, args: dict[str, Any]) -> None:
        raw = str(args["invite"])
        household_invite_accept(member_id=member_id, invite_id=int(raw) if raw.isdigit() else 0)


class LeaveHousehold(LoyaltyMutation):
    """Leave the household; the head leaves last, which ends it."""

    left = graphene.Boolean()
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        household_leave(member_id=member_id_of(call.principal))
        return {"left": True}
