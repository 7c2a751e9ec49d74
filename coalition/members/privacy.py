"""A member's data rights, confirmed by e-mail: "download all my data" (a JSON of
everything the coalition holds about them) and "erase my account" (the GDPR
erasure of ``member_erase``). Each starts with a link e-mailed to the member's
address; the link works once, for that member signed in, for
``PRIVACY_LINK_MINUTES``."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from coalition.charity.models import Donation
from coalition.ledger.selectors import balance, history, lots
from coalition.members.errors import PrivacyLinkInvalid
from coalition.members.models import (
    Member,
    MemberChange,
    MemberPrivacyRequest,
    PrivacyRequestKind,
)
from coalition.members.services import member_erase, member_get_active
from coalition.notifications.selectors import notifications_export
from coalition.transfers.models import HouseholdMembership, TransferRecord
from loyalty_kernel import clock
from tenants.rewards.self_service import member_vouchers

PRIVACY_LINK_MINUTES = 30
HISTORY_PAGE = 200

_SUBJECTS = {
    PrivacyRequestKind.EXPORT: "Download your data",
    PrivacyRequestKind.ERASE: "Confirm: erase your account",
}
_WHAT = {
    PrivacyRequestKind.EXPORT: "download all the data we hold about you",
    PrivacyRequestKind.ERASE: (
        "erase your account. Your points can no longer be used after that, and it cannot be undone"
    ),
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def privacy_request_start(
    *, member_id: int, kind: str, link_url: str, now: datetime | None = None
) -> MemberPrivacyRequest:
    """E-mail the member a link (``link_url`` + token) that confirms ``kind``."""
    now = now or clock.now()
    if kind not in PrivacyRequestKind.values:
        raise ValueError(f"unknown privacy request {kind!r}")
    member = member_get_active(member_id)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        request = MemberPrivacyRequest.objects.create(
            member=member,
            kind=kind,
            token_hash=_hash(token),
            created_at=now,
            expires_at=now + timedelta(minutes=PRIVACY_LINK_MINUTES),
        )
        label = PrivacyRequestKind(kind)
        transaction.on_commit(
            lambda: send_mail(
                subject=f"{settings.LOYALTY_COALITION_NAME}: {_SUBJECTS[label]}",
                message=(
                    f"You asked to {_WHAT[label]}.\n\n"
                    "Open this link, signed in with this address, to confirm: "
                    f"{link_url}{token}\n\n"
                    f"The link works once, for {PRIVACY_LINK_MINUTES} minutes. "
                    "If you did not ask for this, ignore this e-mail: nothing happens."
                ),
                from_email=None,
                recipient_list=[member.email],
            ),
            robust=True,
        )
    return request


def _use(*, member_id: int, token: str, kind: str, now: datetime) -> MemberPrivacyRequest:
    request = (
        MemberPrivacyRequest.objects.select_for_update()
        .filter(token_hash=_hash(token or ""))
        .first()
    )
    if (
        request is None
        or request.member_id != member_id
        or request.kind != kind
        or request.used_at is not None
        or request.expires_at <= now
    ):
        raise PrivacyLinkInvalid(
            "This link does not work any more: it was used, it expired, or it was sent to "
            "another account. Ask for a new one."
        )
    request.used_at = now
    request.save(update_fields=["used_at"])
    return request


def privacy_link_check(
    *, member_id: int, token: str, kind: str, now: datetime | None = None
) -> None:
    """Raise PrivacyLinkInvalid unless the link would work (nothing is used up)."""
    with transaction.atomic():
        _use(member_id=member_id, token=token, kind=kind, now=now or clock.now())
        transaction.set_rollback(True)


def member_data_export(
    *, member_id: int, token: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the coalition holds about the member, once per e-mailed link."""
    now = now or clock.now()
    with transaction.atomic():
        _use(member_id=member_id, token=token, kind=PrivacyRequestKind.EXPORT, now=now)
        return member_data(member_id=member_id, now=now)


def member_erase_confirmed(*, member_id: int, token: str, now: datetime | None = None) -> Member:
    """The GDPR erasure, once the member has confirmed it from the e-mailed link."""
    now = now or clock.now()
    with transaction.atomic():
        _use(member_id=member_id, token=token, kind=PrivacyRequestKind.ERASE, now=now)
        return member_erase(member_id=member_id)


def member_data(*, member_id: int, now: datetime) -> dict[str, Any]:
    member = Member.objects.get(pk=member_id)
    movements: list[dict[str, Any]] = []
    before = None
    while True:
        page = history(member_id, before=before, limit=HISTORY_PAGE)
        movements.extend(
            {
                "at": item.created_at.isoformat(),
                "kind": item.kind,
                "points": item.points,
                "partner": item.partner_name,
                "memo": item.memo,
                "reference": item.external_ref,
            }
            for item in page.items
        )
        if page.next_before is None:
            break
        before = page.next_before
    membership = (
        HouseholdMembership.objects.select_related("household").filter(member=member).first()
    )
    return {
        "exported_at": now.isoformat(),
        "member": {
            "member_number": member.member_number,
            "email": member.email,
            "phone": member.phone,
            "birth_date": member.birth_date.isoformat() if member.birth_date else None,
            "country": member.country,
            "status": member.status,
            "enrolled_at": member.enrolled_at.isoformat(),
            "enrolled_by": member.enrolled_by.name if member.enrolled_by else None,
        },
        "consents": {
            "marketing_email": member.marketing_email_consent,
            "marketing_sms": member.marketing_sms_consent,
            "data_sharing": member.data_sharing_consent,
            "updated_at": member.consent_updated_at.isoformat()
            if member.consent_updated_at
            else None,
        },
        "profile_changes": [
            {
                "field": c.field,
                "change": c.change,
                "channel": c.channel,
                "at": c.changed_at.isoformat(),
            }
            for c in MemberChange.objects.filter(member=member).order_by("changed_at", "pk")
        ],
        "notifications": notifications_export(member.pk),
        "cards": list(member.cards.values_list("card_number", flat=True)),
        "balance": balance(member.pk),
        "lots": [
            {
                "issuer": lot.issuer_name,
                "earned_at": lot.earned_at.isoformat(),
                "expires_at": lot.expires_at.isoformat() if lot.expires_at else None,
                "points": lot.points,
                "remaining": lot.remaining,
            }
            for lot in lots(member.pk, include_spent=True)
        ],
        "history": movements,
        "vouchers": [
            {
                "partner": v.partner_name,
                "reward": v.reward_name,
                "code": v.code,
                "points": v.points,
                "status": v.status,
                "issued_at": v.issued_at.isoformat(),
                "expires_at": v.expires_at.isoformat(),
            }
            for v in member_vouchers(member_id=member.pk, limit=10_000)
        ],
        "donations": [
            {"charity": d.charity.name, "points": d.points, "at": d.created_at.isoformat()}
            for d in Donation.objects.filter(member=member).select_related("charity").order_by("pk")
        ],
        "transfers_sent": [
            {"kind": t.kind, "points": t.points, "at": t.created_at.isoformat()}
            for t in TransferRecord.objects.filter(from_member=member).order_by("pk")
        ],
        "transfers_received": [
            {"kind": t.kind, "points": t.points, "at": t.created_at.isoformat()}
            for t in TransferRecord.objects.filter(to_member=member).order_by("pk")
        ],
        "household": (
            {
                "name": membership.household.name,
                "head": membership.household.head_id == member.pk,
                "joined_at": membership.joined_at.isoformat(),
            }
            if membership
            else None
        ),
    }
