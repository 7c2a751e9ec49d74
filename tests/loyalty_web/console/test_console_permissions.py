"""Every console page per role: owner, manager, cashier, analyst, another partner's
staff and anonymous. A denied request changes nothing, and a session opened on one
partner's host is useless on another's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from tenants.partners.models import Partner
from tenants.staff import services as staff
from tenants.staff.models import StaffInvitation, StaffMembership
from tests.testkit.console import ALL_STAFF, ROLES, assert_page_answers_role, login_as

pytestmark = pytest.mark.django_db


def _state() -> tuple[int, int, int]:
    return (
        StaffInvitation.objects.count(),
        StaffMembership.objects.count(),
        AuditEntry.objects.count(),
    )


def _target(partner: Partner) -> StaffMembership:
    return staff.staff_member_create(
        partner_id=partner.pk,
        email=f"target-{uuid4().hex[:8]}@example.com",
        password="correct horse battery 9",
        role="cashier",
    )


Setup = Callable[[Partner], str]
Request = Callable[[Client, str], Any]


def _nothing(partner: Partner) -> str:
    return ""


def _target_user(partner: Partner) -> str:
    return str(_target(partner).user_id)


def _invitation(partner: Partner) -> str:
    invitation, _token = staff.staff_invite(
        partner_id=partner.pk,
        email=f"w-{uuid4().hex[:6]}@example.com",
        role="cashier",
        acting_user=None,
    )
    return str(invitation.pk)


def _new_address(partner: Partner) -> str:
    return f"new-{uuid4().hex[:6]}@example.com"


PAGES: dict[str, tuple[Setup, Request, set[str] | frozenset[str]]] = {
    # name: (set-up returning an argument, the request, roles allowed)
    "dashboard": (_nothing, lambda c, a: c.get("/"), ALL_STAFF),
    "stores": (_nothing, lambda c, a: c.get("/stores/"), ALL_STAFF),
    "staff list": (_nothing, lambda c, a: c.get("/staff/"), {"owner"}),
    "invite": (_new_address, lambda c, a: c.post("/staff/", {"email": a, "role": "cashier"}),
               {"owner"}),
    "change role": (_target_user, lambda c, a: c.post(f"/staff/{a}/role/", {"role": "analyst"}),
                    {"owner"}),
    "remove (confirm page)": (_target_user, lambda c, a: c.get(f"/staff/{a}/remove/"), {"owner"}),
    "remove": (_target_user, lambda c, a: c.post(f"/staff/{a}/remove/"), {"owner"}),
    "withdraw invitation": (
        _invitation, lambda c, a: c.post(f"/staff/invitations/{a}/withdraw/"), {"owner"}
    ),
    "audit log": (_nothing, lambda c, a: c.get("/audit/"), {"owner", "manager"}),
    "audit log CSV": (_nothing, lambda c, a: c.get("/audit/?format=csv"), {"owner", "manager"}),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    setup, request, allowed = PAGES[page]
    # given someone in this role and whatever the page acts on, when they open the page or press
    # its button: staff with the capability get it, and everyone else is refused; a refusal
    # changes nothing
    assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=allowed,
        setup=setup,
        request=request,
        state=lambda _argument: _state(),
    )


def test_a_session_from_another_partners_host_is_useless(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given an owner of alpha, signed in on alpha's host
    client, _user = login_as(partner_a, "owner", partner_b)
    assert client.get("/").status_code == 200
    # when the same session cookie is sent to beta's host
    client.defaults["HTTP_HOST"] = f"{partner_b.slug}.localhost"
    response = client.get("/staff/")
    # then beta's console asks for a log-in
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_pages_carry_a_strict_content_security_policy(
    partner_a: Partner, partner_b: Partner
) -> None:
    client, _user = login_as(partner_a, "owner", partner_b)
    for path in ("/", "/staff/", "/audit/", "/login/"):
        policy = client.get(path)["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
