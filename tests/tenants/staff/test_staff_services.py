"""Staff accounts: invitations are single-use and expire, a partner keeps an owner,
and repeated wrong passwords lock an address out with a clear message."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from django.contrib.auth import get_user_model

from coalition.audit.models import AuditEntry
from loyalty_kernel import clock
from loyalty_kernel.invitations import INVITATION_LIFETIME
from tenants.partners.models import Partner
from tenants.staff import lockout, services
from tenants.staff.errors import (
    InvalidStaffData,
    InvitationInvalid,
    LastOwner,
    LoginFailed,
    LoginLockedOut,
    StaffAlreadyMember,
)
from tenants.staff.models import LoginAttempt, Role, StaffMembership
from tenants.staff.selectors import staff_can, staff_role

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery 9"


def _email() -> str:
    return f"staff-{uuid4().hex[:10]}@example.com"


def _owner(partner: Partner) -> StaffMembership:
    return services.staff_member_create(
        partner_id=partner.pk, email=_email(), password=PASSWORD, role=Role.OWNER
    )


def test_an_invitation_creates_the_account_once(partner_a: Partner) -> None:
    # given an owner who invites a cashier
    owner = _owner(partner_a)
    email = _email()
    _invitation, token = services.staff_invite(
        partner_id=partner_a.pk, email=email.upper(), role=Role.CASHIER, acting_user=owner.user
    )
    # when the cashier accepts with a password
    membership = services.staff_invitation_accept(token=token, password=PASSWORD)
    # then they work here as cashier, the address was normalised, and it is audited
    assert (membership.role, membership.user.email) == (Role.CASHIER, email)
    assert staff_role(user=membership.user, partner_id=partner_a.pk) == Role.CASHIER
    assert AuditEntry.objects.filter(
        partner_id=partner_a.pk, action="staff.join", object_id=str(membership.pk)
    ).exists()
    # and the same link cannot be used a second time
    with pytest.raises(InvitationInvalid):
        services.staff_invitation_accept(token=token, password=PASSWORD)


def test_an_expired_or_unknown_invitation_is_refused(partner_a: Partner) -> None:
    owner = _owner(partner_a)
    _invitation, token = services.staff_invite(
        partner_id=partner_a.pk, email=_email(), role=Role.ANALYST, acting_user=owner.user
    )
    later = clock.now() + INVITATION_LIFETIME + timedelta(minutes=1)
    with pytest.raises(InvitationInvalid):
        services.staff_invitation_accept(token=token, password=PASSWORD, now=later)
    with pytest.raises(InvitationInvalid):
        services.staff_invitation_accept(token="not-a-token", password=PASSWORD)


def test_a_new_invitation_replaces_the_pending_one(partner_a: Partner) -> None:
    owner = _owner(partner_a)
    email = _email()
    _first, first_token = services.staff_invite(
        partner_id=partner_a.pk, email=email, role=Role.CASHIER, acting_user=owner.user
    )
    _second, second_token = services.staff_invite(
        partner_id=partner_a.pk, email=email, role=Role.MANAGER, acting_user=owner.user
    )
    with pytest.raises(InvitationInvalid):
        services.staff_invitation_accept(token=first_token, password=PASSWORD)
    assert services.staff_invitation_accept(token=second_token, password=PASSWORD).role == "manager"


def test_inviting_someone_who_already_works_here_or_a_bad_address_is_refused(
    partner_a: Partner,
) -> None:
    owner = _owner(partner_a)
    with pytest.raises(StaffAlreadyMember):
        services.staff_invite(
            partner_id=partner_a.pk, email=owner.user.email, role="cashier", acting_user=owner.user
        )
    with pytest.raises(InvalidStaffData) as bad:
        services.staff_invite(
            partner_id=partner_a.pk, email="not an address", role="cashier", acting_user=owner.user
        )
    assert bad.value.field == "email"
    with pytest.raises(InvalidStaffData) as role:
        services.staff_invite(
            partner_id=partner_a.pk, email=_email(), role="boss", acting_user=owner.user
        )
    assert role.value.field == "role"


def test_a_weak_password_is_refused_with_the_reason(partner_a: Partner) -> None:
    owner = _owner(partner_a)
    _invitation, token = services.staff_invite(
        partner_id=partner_a.pk, email=_email(), role="cashier", acting_user=owner.user
    )
    with pytest.raises(InvalidStaffData) as weak:
        services.staff_invitation_accept(token=token, password="12345678")
    assert weak.value.field == "password"
    # the invitation is still usable after the refusal
    assert services.staff_invitation_accept(token=token, password=PASSWORD).role == "cashier"


def test_the_last_owner_cannot_be_demoted_or_removed(partner_a: Partner) -> None:
    partner = Partner.objects.get(pk=partner_a.pk)
    StaffMembership.objects.filter(partner=partner).delete()
    owner = _owner(partner)
    with pytest.raises(LastOwner):
        services.staff_role_change(
            partner_id=partner.pk, user_id=owner.user_id, role="manager", acting_user=owner.user
        )
    with pytest.raises(LastOwner):
        services.staff_remove(partner_id=partner.pk, user_id=owner.user_id, acting_user=owner.user)
    # with a second owner, the first may step down
    second = _owner(partner)
    services.staff_role_change(
        partner_id=partner.pk, user_id=owner.user_id, role="manager", acting_user=second.user
    )
    assert staff_role(user=owner.user, partner_id=partner.pk) == "manager"


def test_wrong_passwords_lock_the_address_out_then_it_unlocks(partner_a: Partner) -> None:
    owner = _owner(partner_a)
    email = owner.user.email
    now = clock.now()
    for _ in range(lockout.MAX_FAILURES):
        with pytest.raises(LoginFailed):
            services.staff_authenticate(
                partner_id=partner_a.pk, email=email, password="wrong", ip="127.0.0.1", now=now
            )
    # the right password is refused while locked, with a message saying for how long
    with pytest.raises(LoginLockedOut, match="Try again in"):
        services.staff_authenticate(
            partner_id=partner_a.pk, email=email, password=PASSWORD, ip=None, now=now
        )
    # after the window it works, and success clears the count
    later = now + lockout.LOCKOUT_WINDOW + timedelta(seconds=1)
    user, role = services.staff_authenticate(
        partner_id=partner_a.pk, email=email, password=PASSWORD, ip=None, now=later
    )
    assert (user.pk, role) == (owner.user_id, "owner")
    assert not LoginAttempt.objects.filter(partner_id=partner_a.pk, email=email).exists()


def test_an_unknown_address_and_staff_of_another_partner_get_the_same_refusal(
    partner_a: Partner, partner_b: Partner
) -> None:
    other = _owner(partner_b)
    messages = set()
    for email, password in ((_email(), PASSWORD), (other.user.email, PASSWORD)):
        with pytest.raises(LoginFailed) as refused:
            services.staff_authenticate(
                partner_id=partner_a.pk, email=email, password=password, ip=None
            )
        messages.add(refused.value.message)
    assert len(messages) == 1


def test_roles_have_the_capabilities_of_the_issue() -> None:
    assert staff_can("owner", "manage_staff")
    assert not staff_can("manager", "manage_staff")
    assert staff_can("manager", "adjust_points")
    assert not staff_can("cashier", "adjust_points")
    assert staff_can("cashier", "serve_till")
    assert not staff_can("analyst", "serve_till")
    assert staff_can("analyst", "export")
    assert not staff_can(None, "view_dashboard")
    assert get_user_model().objects.filter(username__startswith="staff-").count() >= 0
