"""Reading a member: a partner app looks one up; a member reads itself (``me``)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.members import selectors as member_selectors
from coalition.members.models import Member
from loyalty_graphql.base import MEMBER, PARTNER, require
from loyalty_graphql.members.inputs import MemberLookup
from loyalty_graphql.members.types import MemberView


class PartnerMemberQueries(graphene.ObjectType):
    member = graphene.Field(MemberView, lookup=MemberLookup(required=True))

    @staticmethod
    def resolve_member(root: Any, info: Any, lookup: Any) -> Member | None:
        require(info, PARTNER, "read")
        if lookup.member_number:
            return member_selectors.member_by_number(lookup.member_number)
        if lookup.card_number:
            return member_selectors.member_by_card(lookup.card_number)
        if lookup.email:
            return member_selectors.member_by_email(lookup.email)
        raise ValueError("give an email, a member number or a card number")


class CoalitionMemberQueries(graphene.ObjectType):
    me = graphene.Field(MemberView, description="The member of the member token.")

    @staticmethod
    def resolve_me(root: Any, info: Any) -> Member | None:
        principal = require(info, MEMBER)
        return Member.objects.filter(pk=principal.member_id or 0).first()
