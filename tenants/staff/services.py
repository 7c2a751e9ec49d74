"""Writes of staff: invitations, accepting them, roles, removal, and log-in checks.

Every change is audited in the same transaction (``coalition.audit``). The
invitation links themselves are ``loyalty_kernel.invitations`` (shared with
operator staff). The password step, with its lock-out, is
``tenants.staff.sign_in``; two-step sign-in is in ``tenants.staff.two_factor``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from coalition.audit.services import audit_record
from loyalty_kernel import clock
from loyalty_kernel.accounts import account_for_email, invited_account
from loyalty_kernel.invitations import (
    email_cleaned,
    invitation_issue,
    invitation_open,
    invitations_revoke,
)
from tenants.staff.errors import (
    InvalidStaffData,
    InvitationInvalid,
    LastOwner,
    LoginFailed,
    StaffAlreadyMember,
)
from tenants.staff.models import Role, StaffInvitation, StaffMembership
from tenants.staff.sign_in import password_check


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
    with transaction.atomic():
        invitation, token = invitation_issue(
            StaffInvitation.objects.filter(partner_id=partner_id, email=email),
            acting_user=acting_user,
            now=now,
            partner_id=partner_id,
            email=email,
            role=role,
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
    invitation = invitation_open(StaffInvitation.objects.all(), token=token, now=now)
    if invitation is None:
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
    with transaction.atomic():
        invitation = staff_invitation_find(token=token, now=now)
        invitation = StaffInvitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:  # a twin request accepted it meanwhile
            raise InvitationInvalid("This invitation link has already been used.")
        user = invited_account(email=invitation.email, password=password, error=InvalidStaffData)
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
        updated = invitations_revoke(
            StaffInvitation.objects.filter(pk=invitation_id, partner_id=partner_id), now=now
        )
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
    with transaction.atomic():
        user = account_for_email(email=email, password=password)
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
    user, membership = password_check(
        partner_id=partner_id,
        email=email,
        password=password,
        ip=ip,
        now=now or clock.now(),
        membership_of=lambda user: StaffMembership.objects.filter(
            user_id=user.pk, partner_id=partner_id
        ).first(),
        refusal=LoginFailed("The e-mail address or password is not right"),
    )
    return user, membership.role
