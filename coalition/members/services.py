"""Writes of membership: enrol (email only), contact and consent changes, cards,
block/unblock, and GDPR erasure that keeps the ledger intact."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from coalition.audit.services import audit_record
from coalition.ledger.models import Account, AccountKind
from coalition.members.errors import (
    CardAlreadyUsed,
    EmailAlreadyEnrolled,
    ErasureNotConfirmed,
    InvalidMemberData,
    MemberNotActive,
    MemberSupportReasonMissing,
    PhoneAlreadyUsed,
    UnknownMember,
)
from coalition.members.models import Member, MemberCard, MemberStatus
from coalition.members.numbers import member_number_from_sequence
from coalition.members.signals import member_erased
from loyalty_kernel.idempotency import IdempotencyKey, IdempotencyKeyReused, request_hash


def normalise_email(email: str) -> str:
    """Trim and lowercase the domain; the local part keeps its case for display,
    uniqueness is case-insensitive in the database."""
    email = (email or "").strip()
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}" if local else email


def _validate_email(email: str) -> None:
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidMemberData(f"{email!r} is not an e-mail address", field="email") from None


def _validate_phone(phone: str | None) -> str | None:
    if phone is None or not phone.strip():
        return None
    cleaned = phone.strip().replace(" ", "").replace("-", "")
    digits = cleaned[1:] if cleaned.startswith("+") else cleaned
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise InvalidMemberData(f"{phone!r} is not a phone number (E.164)", field="phone")
    return cleaned


def member_enrol(
    *,
    email: str,
    phone: str | None = None,
    enrolled_by_partner_id: int | None = None,
    marketing_email_consent: bool = False,
    idempotency: IdempotencyKey | None = None,
) -> Member:
    """Enrol a member with only an e-mail address; opens the member's wallet."""
    email = normalise_email(email)
    _validate_email(email)
    phone = _validate_phone(phone)
    digest = request_hash("enrol", {"email": email.lower(), "phone": phone})
    if idempotency is not None:
        existing = _enrolment_replay(idempotency, digest)
        if existing is not None:
            return existing
    if Member.objects.filter(email__iexact=email).exists():
        raise EmailAlreadyEnrolled(f"{email} is already a member")
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval('public.members_member_number_seq')")
                (sequence_value,) = cursor.fetchone()
            member = Member.objects.create(
                member_number=member_number_from_sequence(int(sequence_value)),
                email=email,
                phone=phone,
                enrolled_by_id=enrolled_by_partner_id,
                marketing_email_consent=marketing_email_consent,
                consent_updated_at=timezone.now(),
                enrol_scope=idempotency.scope if idempotency else None,
                enrol_key=idempotency.key if idempotency else None,
                enrol_request_hash=digest,
            )
            Account.objects.create(kind=AccountKind.WALLET, member=member, name="")
    except IntegrityError as exc:
        if idempotency is not None:
            existing = _enrolment_replay(idempotency, digest)
            if existing is not None:
                return existing
        message = str(exc)
        if "member_email_ci_unique" in message:
            raise EmailAlreadyEnrolled(f"{email} is already a member") from None
        if "phone" in message:
            raise PhoneAlreadyUsed(f"{phone} belongs to another member") from None
        raise
    return member


def _enrolment_replay(idempotency: IdempotencyKey, digest: str) -> Member | None:
    member = Member.objects.filter(enrol_scope=idempotency.scope, enrol_key=idempotency.key).first()
    if member is None:
        return None
    if member.enrol_request_hash != digest:
        raise IdempotencyKeyReused(
            f"idempotency key {idempotency.key!r} was used to enrol someone else"
        )
    return member


def member_get(member_id: int) -> Member:
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        raise UnknownMember("no such member")
    return member


def member_get_active(member_id: int) -> Member:
    """The member, who must be active to earn, redeem or be given a card."""
    member = member_get(member_id)
    if not member.is_active:
        raise MemberNotActive(f"the member is {member.status}")
    return member


def _member_lock_unerased(member_id: int, *, erased: str) -> Member:
    """The member, locked for a change of status; an erased member's status never
    changes again (``erased`` says so)."""
    member = Member.objects.select_for_update().filter(pk=member_id).first()
    if member is None:
        raise UnknownMember("no such member")
    if member.status == MemberStatus.ERASED:
        raise MemberNotActive(erased)
    return member


def member_set_status(*, member_id: int, status: str) -> Member:
    """Block or unblock a member (erasure has its own service)."""
    if status not in {MemberStatus.ACTIVE, MemberStatus.BLOCKED}:
        raise InvalidMemberData(f"status must be active or blocked, not {status!r}", field="status")
    with transaction.atomic():
        member = _member_lock_unerased(member_id, erased="the member was erased")
        member.status = status
        member.save(update_fields=["status"])
    return member


MAX_SUPPORT_REASON = 500
STATUS_ACTIONS = {MemberStatus.BLOCKED: "member.block", MemberStatus.ACTIVE: "member.unblock"}


def _support_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise MemberSupportReasonMissing("Say why, for the member's record in the audit log")
    if len(reason) > MAX_SUPPORT_REASON:
        raise MemberSupportReasonMissing(
            f"Keep the reason to {MAX_SUPPORT_REASON} characters or fewer"
        )
    return reason


def member_status_change(
    *, member_id: int, status: str, reason: str, acting_user: Any
) -> tuple[Member, bool]:
    """Block or unblock a member for the coalition, with a reason, audited (no
    partner: the coalition decides). Returns the member and whether this call
    changed it: a second press of the same button finds the member already so,
    changes nothing and records nothing."""
    reason = _support_reason(reason)
    if status not in STATUS_ACTIONS:
        raise InvalidMemberData(f"status must be active or blocked, not {status!r}", field="status")
    with transaction.atomic():
        member = _member_lock_unerased(
            member_id, erased="The member was erased: their status cannot change"
        )
        if member.status == status:
            return member, False
        before = member.status
        member.status = status
        member.save(update_fields=["status"])
        audit_record(
            actor=acting_user,
            partner_id=None,
            action=STATUS_ACTIONS[MemberStatus(status)],
            target=("member", member.member_number),
            before={"status": before},
            after={"status": status, "reason": reason},
        )
    return member, True


def member_erase_by_operator(
    *, member_id: int, confirmation: str, reason: str, acting_user: Any
) -> tuple[Member, bool]:
    """The GDPR erasure an operator carries out for a member (asked by letter or
    phone, say): the operator types the member's number to confirm, and gives the
    reason. Audited with the member's number only (the audit log must not keep
    what was erased). Returns the member and whether this call erased them: an
    erased member stays erased and a repeat records nothing."""
    reason = _support_reason(reason)
    with transaction.atomic():
        member = Member.objects.select_for_update().filter(pk=member_id).first()
        if member is None:
            raise UnknownMember("no such member")
        if member.status == MemberStatus.ERASED:
            return member, False
        if (confirmation or "").strip().replace(" ", "") != member.member_number:
            raise ErasureNotConfirmed(
                "Type the member's number exactly as shown to confirm the erasure"
            )
        before = member.status
        erased = member_erase(member_id=member.pk, acting_user=acting_user)
        audit_record(
            actor=acting_user,
            partner_id=None,
            action="member.erase",
            target=("member", member.member_number),
            before={"status": before},
            after={"status": MemberStatus.ERASED, "reason": reason},
        )
    return erased, True


def member_update_consents(*, member_id: int, **consents: bool) -> Member:
    allowed = {"marketing_email_consent", "marketing_sms_consent", "data_sharing_consent"}
    unknown = set(consents) - allowed
    if unknown:
        raise InvalidMemberData(f"unknown consents: {', '.join(sorted(unknown))}", field="consents")
    with transaction.atomic():
        member = member_get(member_id)
        for name, value in consents.items():
            setattr(member, name, bool(value))
        member.consent_updated_at = timezone.now()
        member.save(update_fields=[*consents, "consent_updated_at"])
    return member


def member_add_card(
    *, member_id: int, card_number: str, issued_by_partner_id: int | None = None
) -> MemberCard:
    card_number = card_number.strip()
    if not card_number or len(card_number) > 32 or not card_number.isalnum():
        raise InvalidMemberData("a card number is 1-32 letters or digits", field="card_number")
    member = member_get_active(member_id)
    try:
        with transaction.atomic():
            return MemberCard.objects.create(
                member=member, card_number=card_number, issued_by_id=issued_by_partner_id
            )
    except IntegrityError:
        raise CardAlreadyUsed(f"card {card_number} belongs to a member already") from None


def member_erase(*, member_id: int, acting_user: Any = None) -> Member:
    """GDPR erasure: pseudonymise personal data, drop aliases, keep the ledger.

    The member row stays (the journal references it) with its number, but nothing
    that identifies the person; the wallet keeps its balance for liability
    reporting and can no longer be used.
    """
    with transaction.atomic():
        member = Member.objects.select_for_update().filter(pk=member_id).first()
        if member is None:
            raise UnknownMember("no such member")
        email = member.email
        member.email = f"erased-{member.pk}@erased.invalid"
        member.phone = None
        member.birth_date = None
        member.marketing_email_consent = False
        member.marketing_sms_consent = False
        member.data_sharing_consent = False
        member.status = MemberStatus.ERASED
        member.erased_at = timezone.now()
        member.enrol_key = None
        member.enrol_scope = None
        # the enrolment's request hash covers the e-mail and phone: a guessed
        # address could be confirmed against it
        member.enrol_request_hash = ""
        member.save()
        member.cards.all().delete()
        member_erased.send(sender=Member, member_id=member.pk, email=email)
    return member
