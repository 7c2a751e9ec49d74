"""Writes of staff: invitations, accepting them, roles, removal, and log-in checks.

Every change is audited in the same transaction (``coalition.audit``). Log-in
failures are counted per partner and address and lead to a lock-out
(``tenants.staff.lockout``); two-step sign-in is in ``tenants.staff.two_factor``.
The same message answers an unknown address and a wrong password, so the form
does not tell who works here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from coalition.audit.services import audit_record
from loyalty_kernel import clock
from loyalty_kernel.invitations import email_cleaned, invitation_token, token_hash
from tenants.staff.errors import (
    InvalidStaffData,
    InvitationInvalid,
    LastOwner,
    LoginFailed,
    StaffAlreadyMember,
)
from tenants.staff.lockout import failure_record, failures_clear, refuse_when_locked_out
from tenants.staff.models import Role, StaffInvitation, StaffMembership
from tenants.staff.two_factor import two_factor_enabled

INVITATION_LIFETIME = timedelta(days=7)


def _clean_email(email: str) -> str:
    return email_cleaned(email, error=InvalidStaffData)


def _clean_role(role: str) -> str:
    if role not in Role.values:
        raise InvalidStaffData("Choose a role: owner, manager, cashier or analyst", field="role")
    return role


def staff_invite(
    *, partner_id: int, email: str, role: str, acting_user: Any, now: datetime | None = None
) -> tuple[StaffInvitation, str]:
    """Invite ``email`` as ``role``; returns the invitation and its one-time token
    (to put in the link; only its hash is stored). A newer invitation to the same
    address replaces a pending one."""
    email = _clean_email(email)
    role = _clean_role(role)
    now = now or clock.now()
    if StaffMembership.objects.filter(partner_id=partner_id, user__email__iexact=email).exists():
        raise StaffAlreadyMember(f"{email} already works here")
    token = invitation_token()
    with transaction.atomic():
        StaffInvitation.objects.filter(
            partner_id=partner_id, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = StaffInvitation.objects.create(
            partner_id=partner_id,
            email=email,
            role=role,
            token_hash=token_hash(token),
            invited_by=acting_user if getattr(acting_user, "pk", None) else None,
            expires_at=now + INVITATION_LIFETIME,
        )
        audit_record(
            actor=acting_user,
            partner_id=partner_id,
            action="staff.invite",
            target=("staff_invitation", invitation.pk),
            after={"email": email, "role": role},
        )
    return invitation, token


def staff_invitation_find(*, token: str, now: datetime | None = None) -> StaffInvitation:
    now = now or clock.now()
    invitation = StaffInvitation.objects.filter(token_hash=token_hash(token)).first()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        raise InvitationInvalid(
            "This invitation link has expired or has already been used. "
            "Ask the owner to send a new one."
        )
    return invitation


def staff_invitation_accept(
    *, token: str, password: str, now: datetime | None = None
) -> StaffMembership:
    """Accept an invitation: creates the user (or, for someone who already has an
    account, checks their password) and the membership. Single use."""
    now = now or clock.now()
    users = get_user_model()
    with transaction.atomic():
        invitation = staff_invitation_find(token=token, now=now)
        invitation = StaffInvitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:  # a twin request accepted it meanwhile
            raise InvitationInvalid("This invitation link has already been used.")
        user = users.objects.filter(username=invitation.email).first()
        if user is None:
            try:
                validate_password(password)
            except ValidationError as exc:
                raise InvalidStaffData(" ".join(exc.messages), field="password") from None
            user = users.objects.create_user(
                username=invitation.email, email=invitation.email, password=password
            )
        elif not user.check_password(password):
            raise InvalidStaffData(
                "You already have an account: enter its password to accept", field="password"
            )
        try:
            with transaction.atomic():
                membership = StaffMembership.objects.create(
                    user=user, partner_id=invitation.partner_id, role=invitation.role
                )
        except IntegrityError:
            raise StaffAlreadyMember(f"{invitation.email} already works here") from None
        invitation.accepted_at = now
        invitation.save(update_fields=["accepted_at"])
        audit_record(
            actor=user,
            partner_id=invitation.partner_id,
            action="staff.join",
            target=("staff_membership", membership.pk),
            after={"email": invitation.email, "role": invitation.role},
        )
    return membership


def staff_invitation_revoke(
    *, partner_id: int, invitation_id: int, acting_user: Any, now: datetime | None = None
) -> None:
    now = now or clock.now()
    with transaction.atomic():
        updated = StaffInvitation.objects.filter(
            pk=invitation_id,
            partner_id=partner_id,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        if updated:
            audit_record(
                actor=acting_user,
                partner_id=partner_id,
                action="staff.invitation_revoke",
                target=("staff_invitation", invitation_id),
            )


def _other_owners(partner_id: int, user_id: int) -> bool:
    return (
        StaffMembership.objects.select_for_update()
        .filter(partner_id=partner_id, role=Role.OWNER)
        .exclude(user_id=user_id)
        .exists()
    )


def staff_role_change(*, partner_id: int, user_id: int, role: str, acting_user: Any) -> None:
    role = _clean_role(role)
    with transaction.atomic():
        membership = StaffMembership.objects.select_for_update().get(
            partner_id=partner_id, user_id=user_id
        )
        if membership.role == role:
            return
        if membership.role == Role.OWNER and not _other_owners(partner_id, user_id):
            raise LastOwner("A partner needs at least one owner: make someone else owner first")
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            actor=acting_user,
            partner_id=partner_id,
            action="staff.role_change",
            target=("staff_membership", membership.pk),
            before={"role": before},
            after={"role": role},
        )


def staff_remove(*, partner_id: int, user_id: int, acting_user: Any) -> None:
    with transaction.atomic():
        membership = (
            StaffMembership.objects.select_for_update()
            .filter(partner_id=partner_id, user_id=user_id)
            .first()
        )
        if membership is None:
            return
        if membership.role == Role.OWNER and not _other_owners(partner_id, user_id):
            raise LastOwner("A partner needs at least one owner: make someone else owner first")
        audit_record(
            actor=acting_user,
            partner_id=partner_id,
            action="staff.remove",
            target=("staff_membership", membership.pk),
            before={"user_id": user_id, "role": membership.role},
        )
        membership.delete()


def staff_member_create(
    *, partner_id: int, email: str, password: str, role: str, acting_user: Any = None
) -> StaffMembership:
    """Create (or reuse) a user and give them a role: the demo seed and operator
    onboarding use it; staff themselves join by invitation."""
    email = _clean_email(email)
    role = _clean_role(role)
    users = get_user_model()
    with transaction.atomic():
        user = users.objects.filter(username=email).first()
        if user is None:
            user = users.objects.create_user(username=email, email=email, password=password)
        membership, created = StaffMembership.objects.get_or_create(
            user=user, partner_id=partner_id, defaults={"role": role}
        )
        if created:
            audit_record(
                actor=acting_user,
                partner_id=partner_id,
                action="staff.create",
                target=("staff_membership", membership.pk),
                after={"email": email, "role": role},
            )
    return membership


def staff_authenticate(
    *, partner_id: int, email: str, password: str, ip: str | None, now: datetime | None = None
) -> tuple[Any, str]:
    """The user and their role at this partner, or a typed refusal. Failures are
    recorded even though the caller gets an error (nothing to roll back)."""
    now = now or clock.now()
    email = (email or "").strip().lower()
    refuse_when_locked_out(partner_id=partner_id, email=email, now=now)
    user = authenticate(username=email, password=password) if email and password else None
    membership = (
        StaffMembership.objects.filter(user_id=user.pk, partner_id=partner_id).first()
        if user is not None
        else None
    )
    if user is None or membership is None:
        failure_record(partner_id=partner_id, email=email, ip=ip, now=now)
        raise LoginFailed("The e-mail address or password is not right")
    if not two_factor_enabled(user):
        # With two-step sign-in on, the failures are cleared by the code only: a
        # known password must not reset the count of guessed codes.
        failures_clear(partner_id=partner_id, email=email)
    return user, membership.role
