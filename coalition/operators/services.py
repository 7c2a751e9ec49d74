"""Changes to operator staff (invitations, roles, removal), the operator's sign-in,
and the partner changes the operator console makes (onboarding, lifecycle). Every
change is audited in the same transaction (``coalition.audit``, with no partner for
operator staff).

Invitations work like partner staff's, through ``loyalty_kernel.invitations``.
Sign-in reuses the staff machinery: the password step of ``tenants.staff.sign_in``
(its attempts recorded with no partner) and the two-step code of
``tenants.staff.two_factor`` (the device belongs to the user).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Unpack

from django.db import IntegrityError, transaction

from coalition.audit.services import audit_record
from coalition.operators.errors import (
    InvalidOperatorData,
    LastOperatorAdmin,
    OperatorAlreadyMember,
    OperatorInvitationInvalid,
    OperatorLoginFailed,
    OperatorNotFound,
    OperatorRemoveSelf,
    StatusReasonMissing,
)
from coalition.operators.models import (
    OnboardingRequest,
    OperatorInvitation,
    OperatorMembership,
    OperatorRole,
)
from coalition.settlement.errors import TermsAlreadySet
from coalition.settlement.models import SettlementTerms
from coalition.settlement.proposals import terms_propose
from coalition.settlement.terms import TermsValues, terms_in_force, terms_set
from loyalty_kernel import clock
from loyalty_kernel.accounts import account_for_email, invited_account
from loyalty_kernel.invitations import (
    email_cleaned,
    invitation_issue,
    invitation_open,
    invitations_revoke,
)
from tenants.partners.models import Partner
from tenants.partners.services import partner_change_status, partner_onboard
from tenants.staff.sign_in import password_check

ROLE_HINT = "Choose a role: admin, finance, support or read-only"


def _clean_email(email: str) -> str:
    return email_cleaned(email, error=InvalidOperatorData)


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
    with transaction.atomic():
        user = account_for_email(email=email, password=password)
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
    """Take away a person's operator access (their user and any partner roles stay).
    Never the last admin, and never oneself: another admin does that. Removing
    someone already gone changes nothing (a second press of the button)."""
    with transaction.atomic():
        admins = _lock_admins()
        membership = OperatorMembership.objects.select_for_update().filter(user_id=user_id).first()
        if membership is None:
            return
        if membership.role == OperatorRole.ADMIN and admins == [user_id]:
            raise LastOperatorAdmin(
                "The coalition needs at least one operator admin: make someone else admin first"
            )
        if getattr(acting_user, "pk", None) == user_id:
            raise OperatorRemoveSelf(
                "You cannot remove yourself: ask another operator admin to do it"
            )
        audit_record(
            actor=acting_user,
            partner_id=None,
            action="operator.remove",
            target=("operator_membership", membership.pk),
            before={"user_id": user_id, "role": membership.role},
        )
        membership.delete()


# --- invitations ---------------------------------------------------------------------------


def operator_invite(
    *,
    email: str,
    role: str,
    request_key: str,
    acting_user: Any,
    now: datetime | None = None,
) -> tuple[OperatorInvitation, str | None]:
    """Invite ``email`` to the operator staff as ``role``; returns the invitation and
    its one-time token for the link (only its hash is stored). The same
    ``request_key`` again (the form sent twice) returns the first invitation and no
    token: nothing new to send. A newer invitation to an address withdraws a
    pending one."""
    key = (request_key or "").strip()[:80]
    if not key:
        raise InvalidOperatorData("The form expired. Open it again and resubmit")
    email = _clean_email(email)
    role = _clean_role(role)
    now = now or clock.now()
    done = OperatorInvitation.objects.filter(request_key=key).first()
    if done is not None:
        return done, None
    if OperatorMembership.objects.filter(user__username=email).exists():
        raise OperatorAlreadyMember(f"{email} is operator staff already")
    try:
        with transaction.atomic():
            invitation, token = invitation_issue(
                OperatorInvitation.objects.filter(email=email),
                acting_user=acting_user,
                now=now,
                email=email,
                role=role,
                request_key=key,
            )
            audit_record(
                actor=acting_user,
                partner_id=None,
                action="operator.invite",
                target=("operator_invitation", invitation.pk),
                after={"email": email, "role": role},
            )
    except IntegrityError:
        # the same form sent twice at once: the other request made the invitation
        done = OperatorInvitation.objects.filter(request_key=key).first()
        if done is None:
            raise
        return done, None
    return invitation, token


def operator_invitation_find(*, token: str, now: datetime | None = None) -> OperatorInvitation:
    now = now or clock.now()
    invitation = invitation_open(OperatorInvitation.objects.all(), token=token, now=now)
    if invitation is None:
        raise OperatorInvitationInvalid(
            "This invitation link has expired or has already been used. "
            "Ask an operator admin to send a new one."
        )
    return invitation


def operator_invitation_accept(
    *, token: str, password: str, now: datetime | None = None
) -> OperatorMembership:
    """Accept an invitation: creates the user (or, for someone who already has an
    account, such as partner staff, checks their password) and the operator
    membership in the invitation's role. Single use."""
    now = now or clock.now()
    with transaction.atomic():
        found = operator_invitation_find(token=token, now=now)
        invitation = OperatorInvitation.objects.select_for_update().get(pk=found.pk)
        if invitation.accepted_at is not None or invitation.revoked_at is not None:
            # a twin request accepted it meanwhile, or an admin withdrew it
            raise OperatorInvitationInvalid("This invitation link has already been used.")
        user = invited_account(email=invitation.email, password=password, error=InvalidOperatorData)
        try:
            with transaction.atomic():
                membership = OperatorMembership.objects.create(user=user, role=invitation.role)
        except IntegrityError:
            raise OperatorAlreadyMember(f"{invitation.email} is operator staff already") from None
        invitation.accepted_at = now
        invitation.save(update_fields=["accepted_at"])
        audit_record(
            actor=user,
            partner_id=None,
            action="operator.join",
            target=("operator_membership", membership.pk),
            after={"email": invitation.email, "role": invitation.role},
        )
    return membership


def operator_invitation_revoke(
    *, invitation_id: int, acting_user: Any, now: datetime | None = None
) -> bool:
    """Withdraw a pending invitation; whether this call withdrew it (a second press,
    or an invitation already used, changes nothing)."""
    now = now or clock.now()
    with transaction.atomic():
        updated = invitations_revoke(OperatorInvitation.objects.filter(pk=invitation_id), now=now)
        if updated:
            audit_record(
                actor=acting_user,
                partner_id=None,
                action="operator.invitation_revoke",
                target=("operator_invitation", invitation_id),
            )
    return bool(updated)


def operator_authenticate(
    *, email: str, password: str, ip: str | None, now: datetime | None = None
) -> tuple[Any, str]:
    """The user and their operator role, or a typed refusal. Failed attempts are
    counted like the console's (no partner), and lock the address out alike."""
    user, membership = password_check(
        partner_id=None,
        email=email,
        password=password,
        ip=ip,
        now=now or clock.now(),
        membership_of=lambda user: OperatorMembership.objects.filter(user_id=user.pk).first(),
        refusal=OperatorLoginFailed("The e-mail address or password is not right"),
    )
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


# --- settlement terms ------------------------------------------------------------------


def operator_terms_set(
    *,
    partner: Partner,
    effective_from: datetime,
    acting_user: Any,
    now: datetime | None = None,
    **values: Unpack[TermsValues],
) -> tuple[SettlementTerms, bool]:
    """Set a partner's next terms version, audited. Returns the version and whether
    this call created it. The instant it takes effect is fixed by the preview and
    sent back with the confirmation, so it is the request's key: the same
    confirmation sent twice finds the first one's version (same values) and
    records nothing more; other values at that instant are refused."""
    with transaction.atomic():
        # one operator at a time sets this partner's terms: the twin waits, then finds it
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        done = SettlementTerms.objects.filter(
            partner=partner, effective_from=effective_from
        ).first()
        if done is not None:
            if all(getattr(done, name) == value for name, value in values.items()):
                return done, False
            raise TermsAlreadySet("another version of the terms already takes effect then")
        proposed = terms_propose(partner=partner, effective_from=effective_from, now=now, **values)
        in_force = terms_in_force(now or clock.now(), partner_id=partner.pk).get(partner.pk)
        terms = terms_set(
            partner=partner,
            effective_from=effective_from,
            currency=proposed.currency,
            **values,
        )
        audit_record(
            actor=acting_user,
            partner_id=partner.pk,
            action="settlement.terms_set",
            target=("settlement_terms", terms.pk),
            before=_terms_audited(in_force) if in_force is not None else None,
            after=_terms_audited(terms),
        )
    return terms, True


def _terms_audited(terms: SettlementTerms) -> dict[str, Any]:
    return {
        "effective_from": terms.effective_from.isoformat(),
        "currency": terms.currency,
        "issuance_price": str(terms.issuance_price),
        "reimbursement_rate": str(terms.reimbursement_rate),
        "fee_percent": str(terms.fee_percent),
        "fee_fixed": terms.fee_fixed,
        "breakage_share_percent": str(terms.breakage_share_percent),
    }
