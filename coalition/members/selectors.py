"""Reads of membership: look members up by e-mail, number or card."""

from __future__ import annotations

from coalition.members.models import Member
from coalition.members.numbers import is_valid_member_number
from loyalty_platform import driver_sql


def member_by_email(email: str) -> Member | None:
    return Member.objects.filter(email__iexact=email.strip()).first()


def member_by_number(number: str) -> Member | None:
    number = number.strip()
    if not is_valid_member_number(number):
        return None
    return Member.objects.filter(member_number=number).first()


def member_id_by_number(number: str) -> int | None:
    """The id behind a member number: what every till call starts with, so one
    statement on the driver connection (the caller checks the member's status)."""
    number = number.strip()
    if not is_valid_member_number(number):
        return None
    row = driver_sql.prepared(
        "SELECT id FROM public.members_member WHERE member_number = %s", [number]
    )
    return int(row[0]) if row is not None else None


def member_by_card(card_number: str) -> Member | None:
    return Member.objects.filter(cards__card_number=card_number.strip()).first()
