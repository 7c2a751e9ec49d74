"""A member's own transfer allowance, household and invitations (member token)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.members.models import Member
from coalition.transfers.models import TransferKind
from coalition.transfers.selectors import (
    household_invites_for,
    member_household,
    transfer_allowance,
)
from loyalty_graphql.base import MEMBER, member_id_of, require
from loyalty_graphql.transfers.types import (
    HouseholdInviteView,
    HouseholdView,
    TransferAllowanceView,
)


class TransferQueries(graphene.ObjectType):
    my_transfer_allowance = graphene.Field(
        TransferAllowanceView,
        required=True,
        household=graphene.Boolean(description="The household pooling cap, not transfers'."),
    )
    my_household = graphene.Field(HouseholdView, description="Null: in no household.")
    my_household_invites = graphene.List(
        graphene.NonNull(HouseholdInviteView),
        required=True,
        description="Invitations sent to the member's address that they can still accept.",
    )

    @staticmethod
    def resolve_my_transfer_allowance(
        root: Any, info: Any, household: bool | None = None
    ) -> TransferAllowanceView:
        member_id = member_id_of(require(info, MEMBER))
        kind = TransferKind.HOUSEHOLD if household else TransferKind.TRANSFER
        return TransferAllowanceView.of(transfer_allowance(member_id=member_id, kind=kind))

    @staticmethod
    def resolve_my_household(root: Any, info: Any) -> HouseholdView | None:
        mine = member_household(member_id=member_id_of(require(info, MEMBER)))
        return HouseholdView.of(mine) if mine is not None else None

    @staticmethod
    def resolve_my_household_invites(root: Any, info: Any) -> list[HouseholdInviteView]:
        member = Member.objects.get(pk=member_id_of(require(info, MEMBER)))
        return [HouseholdInviteView.of(i) for i in household_invites_for(member=member)]
