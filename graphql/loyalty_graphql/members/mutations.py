"""Enrolling members and issuing member tokens (partner apps)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.members.errors import MemberNotActive
from coalition.members.services import member_enrol
from loyalty_graphql.answers import Json
from loyalty_graphql.auth import (
    member_token_from_signed_value,
    member_token_issue,
    member_token_signed_value,
)
from loyalty_graphql.base import Call, LoyaltyMutation
from loyalty_graphql.members.inputs import member_by_number
from loyalty_graphql.members.types import MemberView


class EnrolMember(LoyaltyMutation):
    """Enrol a member with only an e-mail address (idempotent by key)."""

    class Arguments:
        email = graphene.String(required=True)
        phone = graphene.String()
        marketing_email_consent = graphene.Boolean()

    member = graphene.Field(MemberView)
    scope = "members"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        member = member_enrol(
            email=args["email"],
            phone=args.get("phone"),
            enrolled_by_partner_id=call.principal.partner_id,
            marketing_email_consent=bool(args.get("marketing_email_consent")),
            idempotency=call.idempotency,
        )
        return {"member": member}


class MemberTokenAnswer(LoyaltyMutation):
    """A mutation that answers a member token (issued to a partner app, or to the
    member signing in)."""

    class Meta:
        abstract = True

    token = graphene.String()

    @classmethod
    def stored_form(cls, payload: dict[str, Any]) -> Json:
        # Not the token: a bearer credential does not belong in a table. Its
        # signed value gives the very same token back.
        return {"signed": member_token_signed_value(payload["token"])}

    @classmethod
    def from_stored(cls, stored: Json) -> dict[str, Any]:
        return {"token": member_token_from_signed_value(stored["signed"])}


class IssueMemberToken(MemberTokenAnswer):
    """A token for the member's own app on the coalition host, issued by a partner
    app that has authenticated the member itself (valid 12 hours)."""

    class Arguments:
        member_number = graphene.String(required=True)

    scope = "members"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        member = member_by_number(args["member_number"])
        if not member.is_active:
            raise MemberNotActive(f"member {member.member_number} is {member.status}")
        return {"token": member_token_issue(member.pk)}
