"""How callers name a member: a lookup input, and the member number most
mutations take."""

from __future__ import annotations

import graphene

from coalition.members import selectors as member_selectors
from coalition.members.errors import UnknownMember
from coalition.members.models import Member


class MemberLookup(graphene.InputObjectType):
    email = graphene.String()
    member_number = graphene.String()
    card_number = graphene.String()


def member_by_number(number: str) -> Member:
    """The member with that number, or UNKNOWN_MEMBER."""
    member = member_selectors.member_by_number(number)
    if member is None:
        raise UnknownMember(f"no member with number {number!r}", field="member_number")
    return member
