"""Reads of membership: look members up by e-mail, number or card."""

from __future__ import annotations

from datetime import datetime

from coalition.members.models import Member, MemberStatus
from coalition.members.numbers import is_valid_member_number


def member_active_sql(alias: str) -> str:
    """SQL: the member row ``alias`` is active (may earn, spend and receive). The
    SQL side of ``Member.is_active``, for statements that read members."""
    return f"{alias}.status = '{MemberStatus.ACTIVE}'"


def member_by_email(email: str) -> Member | None:
    return Member.objects.filter(email__iexact=email.strip()).first()


def member_by_number(number: str) -> Member | None:
    number = number.strip()
    if not is_valid_member_number(number):
        return None
    return Member.objects.filter(member_number=number).first()


def member_by_card(card_number: str) -> Member | None:
    return Member.objects.filter(cards__card_number=card_number.strip()).first()


def member_find(query: str) -> Member | None:
    """The member a till or a console search box names: an e-mail address (it has an
    @), a member number (ten digits with a valid check digit) or a card number."""
    query = query.strip()
    if not query:
        return None
    if "@" in query:
        return member_by_email(query)
    return member_by_number(query) or member_by_card(query)


def masked_email(member: Member) -> str:
    """The member's e-mail as partner staff may see it: enough to recognise it with the
    member in front of them ("j***@example.com"), never the whole address. An erased
    member's address is gone."""
    if member.status == MemberStatus.ERASED:
        return ""
    local, _, domain = member.email.partition("@")
    return f"{local[:1]}***@{domain}"


def members_enrolled_count(*, partner_id: int, since: datetime, until: datetime) -> int:
    """Members a partner enrolled in [since, until)."""
    return Member.objects.filter(
        enrolled_by_id=partner_id, enrolled_at__gte=since, enrolled_at__lt=until
    ).count()
