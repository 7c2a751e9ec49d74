"""Operator staff: create, change role, remove, each audited; the coalition keeps
at least one admin; sign-in refuses wrong passwords and non-operators and locks an
address out after repeated failures; onboarding through the operator is once per
request key; a lifecycle move needs a reason and lands in the status history."""

from __future__ import annotations

from uuid import uuid4

import pytest

from coalition.audit.models import AuditEntry
from coalition.operators import services
from coalition.operators.errors import (
    InvalidOperatorData,
    LastOperatorAdmin,
    OperatorAlreadyMember,
    OperatorLoginFailed,
    StatusReasonMissing,
)
from coalition.operators.models import OnboardingRequest, OperatorMembership
from coalition.operators.selectors import operator_can, operator_role, partners_listed
from tenants.partners.errors import InvalidPartnerData, PartnerSlugTaken
from tenants.partners.models import Partner, PartnerStatusChange
from tenants.staff.errors import LoginLockedOut
from tenants.staff.lockout import MAX_FAILURES
from tenants.staff.models import LoginAttempt
from tests.testkit.operator import PASSWORD

pytestmark = pytest.mark.django_db


def _email(prefix: str = "op") -> str:
    return f"{prefix}-{uuid4().hex[:8]}@example.com"


def _only_admins(*user_ids: int) -> None:
    # the demo or another test may have made admins: these tests reason about their own
    OperatorMembership.objects.filter(role="admin").exclude(user_id__in=user_ids).delete()


def test_create_change_and_remove_are_audited() -> None:
    admin = services.operator_create(email=_email(), role="admin", password=PASSWORD).user
    membership = services.operator_create(email=_email(), role="support", acting_user=admin)
    services.operator_role_change(user_id=membership.user_id, role="finance", acting_user=admin)
    assert operator_role(user=membership.user) == "finance"
    services.operator_remove(user_id=membership.user_id, acting_user=admin)
    assert operator_role(user=membership.user) is None
    actions = list(
        AuditEntry.objects.filter(object_type="operator_membership", object_id=str(membership.pk))
        .order_by("pk")
        .values_list("action", "actor_id", "partner_id")
    )
    assert actions == [
        ("operator.create", admin.pk, None),
        ("operator.role_change", admin.pk, None),
        ("operator.remove", admin.pk, None),
    ]


def test_typed_errors_for_bad_data_and_duplicates() -> None:
    with pytest.raises(InvalidOperatorData) as bad_role:
        services.operator_create(email=_email(), role="owner")
    assert bad_role.value.field == "role"
    with pytest.raises(InvalidOperatorData) as bad_email:
        services.operator_create(email="not an address", role="support")
    assert bad_email.value.field == "email"
    email = _email()
    services.operator_create(email=email, role="support")
    with pytest.raises(OperatorAlreadyMember):
        services.operator_create(email=email.upper(), role="finance")
    assert OperatorMembership.objects.filter(user__email=email).count() == 1


def test_the_last_admin_can_be_neither_removed_nor_demoted() -> None:
    first = services.operator_create(email=_email(), role="admin").user
    _only_admins(first.pk)
    with pytest.raises(LastOperatorAdmin):
        services.operator_remove(user_id=first.pk, acting_user=first)
    with pytest.raises(LastOperatorAdmin):
        services.operator_role_change(user_id=first.pk, role="read_only", acting_user=first)
    assert operator_role(user=first) == "admin"
    # with a second admin, the first may go
    second = services.operator_create(email=_email(), role="admin", acting_user=first).user
    services.operator_remove(user_id=first.pk, acting_user=second)
    assert operator_role(user=first) is None
    with pytest.raises(LastOperatorAdmin):
        services.operator_remove(user_id=second.pk, acting_user=second)


def test_capabilities_per_role() -> None:
    assert operator_can("admin", "onboard_partners")
    assert not operator_can("finance", "onboard_partners")
    assert operator_can("finance", "manage_terms")
    assert operator_can("support", "support_members")
    assert not operator_can("support", "manage_terms")
    assert operator_can("read_only", "view_partners")
    assert not operator_can("read_only", "change_partner_status")
    assert not operator_can(None, "view_partners")


def test_sign_in_refuses_non_operators_and_locks_out_after_failures(partner_a: Partner) -> None:
    email = _email()
    services.operator_create(email=email, role="support", password=PASSWORD)
    user, role = services.operator_authenticate(email=email, password=PASSWORD, ip="10.0.0.1")
    assert (user.email, role) == (email, "support")
    # partner staff with a right password are not operator staff
    from tenants.staff.services import staff_member_create

    staff_email = _email("staff")
    staff_member_create(partner_id=partner_a.pk, email=staff_email, password=PASSWORD, role="owner")
    with pytest.raises(OperatorLoginFailed):
        services.operator_authenticate(email=staff_email, password=PASSWORD, ip=None)
    # failures are counted with no partner, apart from the partner's console
    for _ in range(MAX_FAILURES):
        with pytest.raises(OperatorLoginFailed):
            services.operator_authenticate(email=email, password="wrong", ip="10.0.0.1")
    assert LoginAttempt.objects.filter(email=email, partner__isnull=True).count() == MAX_FAILURES
    with pytest.raises(LoginLockedOut):
        services.operator_authenticate(email=email, password=PASSWORD, ip="10.0.0.1")


def test_onboarding_is_once_per_request_key_and_audited() -> None:
    admin = services.operator_create(email=_email(), role="admin").user
    slug = f"once-{uuid4().hex[:6]}"
    arguments = {
        "request_key": f"test:{uuid4().hex}",
        "name": "Once Café",
        "slug": slug,
        "default_currency": "eur",
        "time_zone": "Europe/Madrid",
        "contact_email": "once@example.com",
        "acting_user": admin,
    }
    partner, created = services.operator_partner_onboard(**arguments)
    again, created_again = services.operator_partner_onboard(**arguments)
    assert (created, created_again) == (True, False)
    assert again.pk == partner.pk
    assert Partner.objects.filter(slug=slug).count() == 1
    assert partner.default_currency == "EUR"
    assert partner.get_primary_domain().domain == f"{slug}.localhost"
    assert OnboardingRequest.objects.get(key=arguments["request_key"]).partner_id == partner.pk
    assert AuditEntry.objects.filter(action="partner.onboard", partner_id=partner.pk).count() == 1
    # another key with the same slug is a typed error naming the field
    with pytest.raises(PartnerSlugTaken) as taken:
        services.operator_partner_onboard(**{**arguments, "request_key": "test:other"})
    assert taken.value.field == "slug"
    with pytest.raises(InvalidPartnerData) as currency:
        services.operator_partner_onboard(
            **{**arguments, "request_key": "test:x", "slug": "x-" + slug, "default_currency": "XYZ"}
        )
    assert currency.value.field == "default_currency"
    assert [p.slug for p in partners_listed(text=slug)] == [slug]


def test_a_lifecycle_move_needs_a_reason_and_is_recorded(partner_a: Partner) -> None:
    admin = services.operator_create(email=_email(), role="admin").user
    partner, _created = services.operator_partner_onboard(
        request_key=f"test:{uuid4().hex}", name="Move Café", slug=f"move-{uuid4().hex[:6]}",
        default_currency="EUR", time_zone="UTC", contact_email="", acting_user=admin,
    )  # fmt: skip
    with pytest.raises(StatusReasonMissing):
        services.operator_partner_status(
            partner=partner, to_status="active", reason="  ", acting_user=admin
        )
    services.operator_partner_status(
        partner=partner, to_status="active", reason="contract signed", acting_user=admin
    )
    services.operator_partner_status(
        partner=partner, to_status="suspended", reason="unpaid invoice", acting_user=admin
    )
    partner.refresh_from_db()
    assert partner.status == "suspended"
    history = list(
        PartnerStatusChange.objects.filter(partner=partner)
        .order_by("pk")
        .values_list("from_status", "to_status", "reason", "acting_user_id")
    )
    assert history[1:] == [
        ("onboarding", "active", "contract signed", admin.pk),
        ("active", "suspended", "unpaid invoice", admin.pk),
    ]
    audited = AuditEntry.objects.filter(action="partner.status", partner_id=partner.pk)
    assert [e.after["status"] for e in audited.order_by("pk")] == ["active", "suspended"]
