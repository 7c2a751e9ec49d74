"""What a member app shows of transfers and households."""

from __future__ import annotations

import graphene

from coalition.transfers.models import HouseholdInvite
from coalition.transfers.selectors import MemberHousehold, TransferAllowance


class TransferAllowanceView(graphene.ObjectType):
    year = graphene.Int(required=True)
    cap = graphene.BigInt(description="Points a year the member may send; null: no cap.")
    used = graphene.BigInt(required=True, description="Sent this year.")
    left = graphene.BigInt(description="What is left this year; null: no cap.")

    @staticmethod
    def of(allowance: TransferAllowance) -> TransferAllowanceView:
        return TransferAllowanceView(
            year=allowance.year, cap=allowance.cap, used=allowance.used, left=allowance.left
        )


class HouseholdMateView(graphene.ObjectType):
    member_number = graphene.String(required=True)
    email = graphene.String(required=True, description="Masked, as the others see it.")
    is_head = graphene.Boolean(required=True)
    is_you = graphene.Boolean(required=True)


class HouseholdInviteView(graphene.ObjectType):
    id = graphene.ID(required=True)
    household_name = graphene.String(required=True)
    email = graphene.String(required=True)
    expires_at = graphene.DateTime(required=True)

    @staticmethod
    def of(invite: HouseholdInvite) -> HouseholdInviteView:
        return HouseholdInviteView(
            id=str(invite.pk),
            household_name=invite.household.name,
            email=invite.email,
            expires_at=invite.expires_at,
        )


class HouseholdView(graphene.ObjectType):
    name = graphene.String(required=True)
    is_head = graphene.Boolean(required=True, description="The caller holds the pooled points.")
    members = graphene.List(graphene.NonNull(HouseholdMateView), required=True)
    pending_invites = graphene.List(
        graphene.NonNull(HouseholdInviteView),
        required=True,
        description="Invitations not yet accepted (the head's view only).",
    )

    @staticmethod
    def of(mine: MemberHousehold) -> HouseholdView:
        return HouseholdView(
            name=mine.household.name,
            is_head=mine.is_head,
            members=[
                HouseholdMateView(
                    member_number=m.member_number, email=m.email, is_head=m.is_head, is_you=m.is_you
                )
                for m in mine.mates
            ],
            pending_invites=[HouseholdInviteView.of(i) for i in mine.pending_invites],
        )
