"""Inviting operator staff: an invitation per request key (a double submit is one
invitation, one token), a link that works once and expires, a password that must
be good enough (or, for someone who has an account, theirs), withdrawal, each
audited; and removal, which refuses the last admin and oneself. Every refusal
changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from coalition.audit.models import AuditEntry
from coalition.operators import services
from coalition.operators.errors import (
    InvalidOperatorData,
    LastOperatorAdmin,
    OperatorAlreadyMember,
    OperatorInvitationInvalid,
    OperatorRemoveSelf,
)
from coalition.operators.models import OperatorInvitation, OperatorMembership
from coalition.operators.selectors import (
    operator_invitations_pending,
    operator_of,
    operator_role,
    operators_listed,
)
from loyalty_kernel import clock
from loyalty_kernel.invitations import token_hash
from tenants.partners.models import Partner
from tenants.staff import two_factor
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.django_db


def _email(prefix: str = "inv") -> str:
    return f"{prefix}-{uuid4().hex[:8]}@example.com"


def _state() -> tuple[Any, ...]:
    return (
        sorted(
            OperatorInvitation.objects.values_list("id", "email", "role", "accepted_at",
                                                   "revoked_at")
        ),
        sorted(OperatorMembership.objects.values_list("user_id", "role")),
        AuditEntry.objects.count(),
    )  # fmt: skip


def _invite(admin: Any, email: str, role: str = "finance", **extra: Any) -> tuple[Any, str]:
    invitation, token = services.operator_invite(
        email=email, role=role, request_key=uuid4().hex, acting_user=admin, **extra
    )
    assert token is not None
    return invitation, token


def test_an_invitation_is_accepted_once_and_makes_operator_staff_in_its_role() -> None:
    # given an admin who invites a finance operator
    admin = operator("admin")
    email = _email()
    invitation, token = _invite(admin, f"  {email.upper()} ")
    # then only the token's hash is kept, the address is clean, and it is pending
    assert invitation.email == email
    assert invitation.token_hash == token_hash(token) != token
    assert invitation in list(operator_invitations_pending(now=clock.now()))
    # when the invitee accepts with a password
    membership = services.operator_invitation_accept(token=token, password=PASSWORD)
    # then they are finance staff, signed in with that password, and it is audited
    assert (membership.user.email, membership.role) == (email, "finance")
    assert membership.user.check_password(PASSWORD)
    assert operator_role(user=membership.user) == "finance"
    actions = list(
        AuditEntry.objects.filter(partner_id=None, action__in=["operator.invite", "operator.join"])
        .filter(after__email=email)
        .order_by("pk")
        .values_list("action", "actor_id")
    )
    assert actions == [("operator.invite", admin.pk), ("operator.join", membership.user_id)]
    # and the link does not work a second time
    before = _state()
    with pytest.raises(OperatorInvitationInvalid):
        services.operator_invitation_accept(token=token, password=PASSWORD)
    assert _state() == before


def test_the_same_request_key_is_one_invitation_and_sends_nothing_new() -> None:
    admin = operator("admin")
    email, key = _email(), uuid4().hex
    first, token = services.operator_invite(
        email=email, role="support", request_key=key, acting_user=admin
    )
    before = _state()
    again, no_token = services.operator_invite(
        email=email, role="support", request_key=key, acting_user=admin
    )
    assert (again.pk, no_token) == (first.pk, None)
    assert token is not None
    assert _state() == before


def test_a_new_invitation_withdraws_the_pending_one_and_withdrawing_is_audited() -> None:
    admin = operator("admin")
    email = _email()
    old, old_token = _invite(admin, email, "support")
    new, new_token = _invite(admin, email, "read_only")
    old.refresh_from_db()
    assert old.revoked_at is not None
    with pytest.raises(OperatorInvitationInvalid):
        services.operator_invitation_find(token=old_token)
    # withdrawing the new one works once
    assert services.operator_invitation_revoke(invitation_id=new.pk, acting_user=admin)
    before = _state()
    assert not services.operator_invitation_revoke(invitation_id=new.pk, acting_user=admin)
    assert _state() == before
    assert AuditEntry.objects.filter(
        action="operator.invitation_revoke", object_id=str(new.pk), actor_id=admin.pk
    ).exists()
    with pytest.raises(OperatorInvitationInvalid):
        services.operator_invitation_accept(token=new_token, password=PASSWORD)


def test_an_expired_or_unknown_link_is_refused_and_changes_nothing() -> None:
    admin = operator("admin")
    sent = clock.now() - timedelta(days=8)
    _invitation, token = _invite(admin, _email(), now=sent)
    before = _state()
    for bad in (token, "no-such-token", ""):
        with pytest.raises(OperatorInvitationInvalid):
            services.operator_invitation_accept(token=bad, password=PASSWORD)
    assert _state() == before
    # a day before it expired it still worked
    services.operator_invitation_find(token=token, now=sent + timedelta(days=6))


@pytest.mark.parametrize(
    ("email", "role", "key", "field"),
    [
        ("not an address", "finance", "k", "email"),
        ("ok@example.com", "owner", "k", "role"),
        ("ok@example.com", "finance", "  ", None),
    ],
)
def test_bad_input_is_a_typed_error_naming_its_field(
    email: str, role: str, key: str, field: str | None
) -> None:
    admin = operator("admin")
    before = _state()
    with pytest.raises(InvalidOperatorData) as refused:
        services.operator_invite(email=email, role=role, request_key=key, acting_user=admin)
    assert refused.value.field == field
    assert _state() == before


def test_existing_operator_staff_cannot_be_invited() -> None:
    admin = operator("admin")
    support = operator("support")
    before = _state()
    with pytest.raises(OperatorAlreadyMember) as refused:
        _invite(admin, support.email.upper())
    assert refused.value.field == "email"
    assert _state() == before


def test_a_weak_password_is_refused_and_the_link_still_works() -> None:
    admin = operator("admin")
    _invitation, token = _invite(admin, _email())
    before = _state()
    with pytest.raises(InvalidOperatorData) as weak:
        services.operator_invitation_accept(token=token, password="12345678")
    assert weak.value.field == "password"
    assert _state() == before
    services.operator_invitation_accept(token=token, password=PASSWORD)


def test_someone_with_an_account_accepts_with_their_own_password(partner_a: Partner) -> None:
    # given partner staff, invited to the operator staff too
    from tenants.staff.services import staff_member_create

    email = _email("owner")
    staff_member_create(partner_id=partner_a.pk, email=email, password=PASSWORD, role="owner")
    _invitation, token = _invite(operator("admin"), email, "support")
    # a new password does not take over their account
    before = _state()
    with pytest.raises(InvalidOperatorData) as wrong:
        services.operator_invitation_accept(token=token, password="another good password 7")
    assert wrong.value.field == "password"
    assert _state() == before
    membership = services.operator_invitation_accept(token=token, password=PASSWORD)
    assert membership.role == "support"


def test_nobody_removes_themselves_and_the_last_admin_stays() -> None:
    admin = operator("admin")
    other_admin = operator("admin")
    before = _state()
    with pytest.raises(OperatorRemoveSelf):
        services.operator_remove(user_id=admin.pk, acting_user=admin)
    assert _state() == before
    # another admin may remove them
    services.operator_remove(user_id=admin.pk, acting_user=other_admin)
    assert operator_role(user=admin) is None
    # and removing someone already gone changes nothing
    before = _state()
    services.operator_remove(user_id=admin.pk, acting_user=other_admin)
    assert _state() == before
    # the last admin stays, whoever asks
    OperatorMembership.objects.filter(role="admin").exclude(user_id=other_admin.pk).delete()
    support = operator("support")
    before = _state()
    with pytest.raises(LastOperatorAdmin):
        services.operator_remove(user_id=other_admin.pk, acting_user=support)
    assert _state() == before


def test_the_list_says_whose_two_step_sign_in_is_on() -> None:
    finance = operator("finance")  # on, as the role needs
    support = operator("support")  # off
    rows = {m.user_id: m.two_step_on for m in operators_listed()}
    assert (rows[finance.pk], rows[support.pk]) == (True, False)
    two_factor.two_factor_start(user=support)
    two_factor.two_factor_confirm(user=support, code=code_for(support), partner_id=None)
    found = operator_of(support.pk)
    assert found is not None
    assert found.two_step_on
