"""Changes to operator staff, the operator's sign-in, and the partner changes the
operator console makes (onboarding, lifecycle). Every change is audited in the
same transaction (``coalition.audit``, with no partner for operator staff).

Sign-in reuses the staff machinery: the lock-out of ``tenants.staff.lockout``
(its attempts recorded with no partner) and the two-step code of
``tenants.staff.two_factor`` (the device belongs to the user).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from coalition.audit.services import audit_record
from coalition.operators.errors import (
    InvalidOperatorData,
    LastOperatorAdmin,
    OperatorAlreadyMember,
    OperatorLoginFailed,
    OperatorNotFound,
    StatusReasonMissing,
)
from coalition.operators.models import OnboardingRequest, OperatorMembership, OperatorRole
from loyalty_kernel import clock
from tenants.partners.models import Partner
from tenants.partners.services import partner_change_status, partner_onboard
from tenants.staff.lockout import failure_record, failures_clear, refuse_when_locked_out
from tenants.staff.two_factor import two_factor_enabled

ROLE_HINT = "Choose a role: admin, finance, support or read-only"


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidOperatorData(
            "Enter an e-mail address in the right format, like name@example.com", field="email"
        ) from None
    return email


def _clean_role(role: str) -> str:
    if role not in OperatorRole.values:
        raise InvalidOperatorData(ROLE_HINT, field="role")
    return role


def _lock_admins() -> list[int]:
    """Lock every admin row (in one order, so two removals cannot deadlock) and
    return their user ids: the last-admin rule is checked under this lock."""
    return list(
        OperatorMembership.objects.select_for_update()
        .filter(role=OperatorRole.ADMIN)
        .order_by("pk")
        .values_list("user_id", flat=True)
    )


def operator_create(
    *, email: str, role: str, password: str | None = None, acting_user: Any = None
) -> OperatorMembership:
    """Make a user (new, or an existing one such as partner staff) operator staff."""
    email = _clean_email(email)
    role = _clean_role(role)
    users = get_user_model()
    with transaction.atomic():
        user = users.objects.filter(username=email).first()
        if user is None:
            user = users.objects.create_user(username=email, email=email, password=password)
        if OperatorMembership.objects.filter(user=user).exists():
            raise OperatorAlreadyMember(f"{email} is operator staff already")
        try:
            with transaction.atomic():
                membership = OperatorMembership.objects.create(user=user, role=role)
        except IntegrityError:
            raise OperatorAlreadyMember(f"{email} is operator staff already") from None
        audit_record(
            actor=acting_user,
            partner_id=None,
            action="operator.create",
            target=("operator_membership", membership.pk),
            after={"email": email, "role": role},
        )
    return membership


def operator_role_change(*, user_id: int, role: str, acting_user: Any) -> OperatorMembership:
    role = _clean_role(role)
    with transaction.atomic():
        admins = _lock_admins()
        membership = OperatorMembership.objects.select_for_update().filter(user_id=user_id).first()
        if membership is None:
            raise OperatorNotFound("That person is not operator staff")
        if membership.role == role:
            return membership
        if membership.role == OperatorRole.ADMIN and admins == [user_id]:
            raise LastOperatorAdmin(
                "The coalition needs at least one operator admin: make someone else admin first",
                field="role",
            )
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            actor=acting_user,
            partner_id=None,
            action="operator.role_change",
            target=("operator_membership", membership.pk),
            before={"role": before},
            after={"role": role},
        )
    return membership


def operator_remove(*, user_id: int, acting_user: Any) -> None:
    """Take away a person's operator access (their user and any partner roles stay)."""
    with transaction.atomic():
        admins = _lock_admins()
        membership = OperatorMembership.objects.select_for_update().filter(user_id=user_id).first()
        if membership is None:
            return
        if membership.role == OperatorRole.ADMIN and admins == [user_id]:
            raise LastOperatorAdmin(
                "The coalition needs at least one operator admin: make someone else admin first"
            )
        audit_record(
            actor=acting_user,
            partner_id=None,
            action="operator.remove",
            target=("operator_membership", membership.pk),
            before={"user_id": user_id, "role": membership.role},
        )
        membership.delete()


def operator_authenticate(
    *, email: str, password: str, ip: str | None, now: datetime | None = None
) -> tuple[Any, str]:
    """The user and their operator role, or a typed refusal. Failed attempts are
    counted like the console's (no partner), and lock the address out alike."""
    now = now or clock.now()
    email = (email or "").strip().lower()
    refuse_when_locked_out(partner_id=None, email=email, now=now)
    user = authenticate(username=email, password=password) if email and password else None
    membership = (
        OperatorMembership.objects.filter(user_id=user.pk).first() if user is not None else None
    )
    if user is None or membership is None:
        failure_record(partner_id=None, email=email, ip=ip, now=now)
        raise OperatorLoginFailed("The e-mail address or password is not right")
    if not two_factor_enabled(user):
        failures_clear(partner_id=None, email=email)
    return user, membership.role


# --- partners ------------------------------------------------------------------------------


def operator_partner_onboard(
    *,
    request_key: str,
    name: str,
    slug: str,
    default_currency: str,
    time_zone: str,
    contact_email: str,
    acting_user: Any,
) -> tuple[Partner, bool]:
    """Onboard a partner once per ``request_key``: returns the partner and whether
    this call created it (a repeated submit returns the first one's partner)."""
    key = (request_key or "").strip()[:80]
    if not key:
        raise InvalidOperatorData("The form expired. Open it again and resubmit")
    done = OnboardingRequest.objects.filter(key=key).select_related("partner").first()
    if done is not None:
        return done.partner, False
    try:
        with transaction.atomic():
            partner = partner_onboard(
                name=name,
                slug=slug,
                default_currency=default_currency,
                time_zone=time_zone,
                contact_email=contact_email,
                acting_user=acting_user if getattr(acting_user, "pk", None) else None,
            )
            OnboardingRequest.objects.create(key=key, partner=partner)
            audit_record(
                actor=acting_user,
                partner_id=partner.pk,
                action="partner.onboard",
                target=("partner", partner.pk),
                after={
                    "name": partner.name,
                    "slug": partner.slug,
                    "currency": partner.default_currency,
                    "time_zone": partner.time_zone,
                    "contact_email": partner.contact_email,
                },
            )
    except Exception:
        # The same key submitted twice at once: the other request created it.
        done = OnboardingRequest.objects.filter(key=key).select_related("partner").first()
        if done is not None:
            return done.partner, False
        raise
    return partner, True


def operator_partner_status(
    *, partner: Partner, to_status: str, reason: str, acting_user: Any
) -> Partner:
    """Activate, suspend or offboard a partner, with the reason on its history."""
    reason = (reason or "").strip()
    if not reason:
        raise StatusReasonMissing("Say why, for the partner's status history")
    if len(reason) > 500:
        raise StatusReasonMissing("Keep the reason under 500 characters")
    with transaction.atomic():
        before = Partner.objects.get(pk=partner.pk).status
        changed = partner_change_status(
            partner=partner,
            to_status=to_status,
            reason=reason,
            acting_user=acting_user if getattr(acting_user, "pk", None) else None,
        )
        audit_record(
            actor=acting_user,
            partner_id=partner.pk,
            action="partner.status",
            target=("partner", partner.pk),
            before={"status": before},
            after={"status": to_status, "reason": reason},
        )
    return changed
