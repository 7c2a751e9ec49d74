"""A member's own profile: contact details, birthday, country and consents, each
change recorded (``MemberChange``), and whether the profile is complete (what the
partners' "profile completion" behaviour rules reward)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypedDict, Unpack

from django.db import IntegrityError, transaction

from coalition.members.errors import InvalidMemberData, MemberNotActive, PhoneAlreadyUsed
from coalition.members.models import Member, MemberChange
from coalition.members.services import _validate_phone, member_get
from loyalty_kernel import clock

CONSENTS = ("marketing_email_consent", "marketing_sms_consent", "data_sharing_consent")
CONTACT_DETAILS = ("phone", "birth_date", "country")
OLDEST_BIRTH_YEAR = 1900


def profile_is_complete(member: Member) -> bool:
    """What "a complete profile" means for the behaviour rules: a phone number, a
    birthday and a country."""
    return bool(member.phone and member.birth_date and member.country)


def profile_completion(member: Member) -> tuple[int, int]:
    """How many of the contact details are filled, of how many."""
    return sum(1 for name in CONTACT_DETAILS if getattr(member, name)), len(CONTACT_DETAILS)


class ProfileEntry(TypedDict):
    """What the member enters on their profile form."""

    phone: str | None
    birth_date: date | None
    country: str
    marketing_email_consent: bool
    marketing_sms_consent: bool
    data_sharing_consent: bool


@dataclass(frozen=True)
class ProfileUpdate:
    member: Member
    changed: list[str]  # the fields that changed, in CONTACT_DETAILS + CONSENTS order
    completed_now: bool  # the profile became complete with this change


def _validate_birth_date(value: date | None, today: date) -> date | None:
    if value is None:
        return None
    if value > today or value.year < OLDEST_BIRTH_YEAR:
        raise InvalidMemberData(
            f"Enter a date of birth between {OLDEST_BIRTH_YEAR} and today", field="birth_date"
        )
    return value


def _validate_country(value: str) -> str:
    value = value.strip().upper()
    if value and (len(value) != 2 or not value.isalpha() or not value.isascii()):
        raise InvalidMemberData("Enter a two-letter country code, like ES", field="country")
    return value


def member_profile_update(
    *,
    member_id: int,
    channel: str = "portal",
    now: datetime | None = None,
    **entry: Unpack[ProfileEntry],
) -> ProfileUpdate:
    """Save what the member entered; record each field that changed."""
    now = now or clock.now()
    wanted: dict[str, object] = {
        "phone": _validate_phone(entry["phone"]),
        "birth_date": _validate_birth_date(entry["birth_date"], now.date()),
        "country": _validate_country(entry["country"]),
        "marketing_email_consent": bool(entry["marketing_email_consent"]),
        "marketing_sms_consent": bool(entry["marketing_sms_consent"]),
        "data_sharing_consent": bool(entry["data_sharing_consent"]),
    }
    try:
        with transaction.atomic():
            member = member_get(member_id)
            member = Member.objects.select_for_update().get(pk=member.pk)
            if not member.is_active:
                raise MemberNotActive(f"the member is {member.status}")
            was_complete = profile_is_complete(member)
            changed = [name for name, value in wanted.items() if getattr(member, name) != value]
            for name in changed:
                setattr(member, name, wanted[name])
            if any(name in CONSENTS for name in changed):
                member.consent_updated_at = now
            if changed:
                member.save(update_fields=[*changed, "consent_updated_at"])
            MemberChange.objects.bulk_create(
                MemberChange(
                    member=member,
                    field=name,
                    change=_change_word(name, wanted[name]),
                    channel=channel,
                    changed_at=now,
                )
                for name in changed
            )
    except IntegrityError:
        raise PhoneAlreadyUsed("That phone number belongs to another member") from None
    return ProfileUpdate(member, changed, not was_complete and profile_is_complete(member))


def _change_word(name: str, value: object) -> str:
    if name in CONSENTS:
        return "granted" if value else "withdrawn"
    return "changed" if value else "removed"


def member_changes(*, member_id: int, limit: int = 20) -> list[MemberChange]:
    return list(
        MemberChange.objects.filter(member_id=member_id).order_by("-changed_at", "-pk")[:limit]
    )
