"""Who may open the member portal: only the member the session was started for,
while active, not expired and not signed out everywhere. Staff and operator logins
on the public host are not members; everyone else is sent to sign in, with the page
they asked for, and a denied request changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import override_settings

from coalition.member_auth.models import MemberSessionGeneration
from coalition.member_auth.services import member_sign_out_everywhere
from coalition.members.models import Member, MemberStatus
from coalition.members.services import member_enrol
from loyalty_kernel import clock
from loyalty_web.console.access import SESSION_PARTNER
from loyalty_web.portal.access import SESSION_MEMBER, SESSION_STARTED
from tenants.partners.models import Partner
from tenants.staff.services import staff_member_create
from tests.testkit.console import PASSWORD
from tests.testkit.portal import portal_client, public_host

pytestmark = pytest.mark.django_db

STAFF = ("owner", "manager", "cashier", "analyst")
DENIED = (*STAFF, "operator", "anonymous", "blocked", "signed_out_everywhere", "expired")


def _member(prefix: str = "portal") -> Member:
    return member_enrol(email=f"{prefix}-{uuid4().hex[:10]}@example.com")


def _state() -> tuple[Any, ...]:
    return (
        sorted(Member.objects.values_list("pk", "status", "email")),
        sorted(MemberSessionGeneration.objects.values_list("member_id", "generation")),
    )


def _client_for(role: str, partner: Partner) -> Client:
    """A client on the public host for a role that must not reach the portal."""
    client = Client(HTTP_HOST=public_host())
    if role in STAFF:
        membership = staff_member_create(
            partner_id=partner.pk,
            email=f"{role}-{uuid4().hex[:8]}@example.com",
            password=PASSWORD,
            role=role,
        )
        client.force_login(membership.user)
        session = client.session
        session[SESSION_PARTNER] = partner.pk
        session.save()
    elif role == "operator":
        operator = get_user_model().objects.create_superuser(
            username=f"op-{uuid4().hex[:8]}", email="op@example.com", password=PASSWORD
        )
        client.force_login(operator)
    elif role == "blocked":
        member = _member("blocked")
        client = portal_client(member)
        Member.objects.filter(pk=member.pk).update(status=MemberStatus.BLOCKED)
    elif role == "signed_out_everywhere":
        member = _member("revoked")
        client = portal_client(member)
        member_sign_out_everywhere(member=member)
    elif role == "expired":
        client = portal_client(_member("expired"))
        session = client.session
        too_old = clock.now() - timedelta(seconds=settings.LOYALTY_MEMBER_SESSION_MAX_SECONDS + 1)
        session[SESSION_STARTED] = too_old.isoformat()
        session.save()
    return client


@pytest.mark.parametrize("role", DENIED)
def test_the_portal_home_sends_everyone_but_a_signed_in_member_to_sign_in(
    role: str, partner_a: Partner
) -> None:
    client = _client_for(role, partner_a)
    poster = _client_for(role, partner_a)
    before = _state()
    response = client.get("/portal/?from=test")
    assert response.status_code == 302, (role, response.status_code)
    assert response["Location"] == "/portal/sign-in/?next=%2Fportal%2F%3Ffrom%3Dtest", role
    assert response["Content-Security-Policy"]
    assert _state() == before
    everywhere = poster.post("/portal/sign-out/everywhere/")
    assert everywhere.status_code == 302, role
    assert everywhere["Location"].startswith("/portal/sign-in/?next="), role
    assert _state() == before
    # a revoked, expired or blocked member's session is forgotten, not kept around
    assert SESSION_MEMBER not in client.session


def test_a_member_sees_their_own_home_and_nobody_elses() -> None:
    mine, theirs = _member("mine"), _member("theirs")
    page = portal_client(mine).get("/portal/")
    assert page.status_code == 200
    text = page.content.decode()
    assert mine.member_number in text
    assert mine.email in text
    assert theirs.member_number not in text
    assert theirs.email not in text
    assert page["Cache-Control"] == "no-store"
    other = portal_client(theirs).get("/portal/").content.decode()
    assert theirs.member_number in other
    assert mine.member_number not in other


def test_a_member_session_is_not_a_staff_or_operator_login(partner_a: Partner) -> None:
    client = portal_client(_member())
    # the operator admin on the same host does not take a member for a user
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert "_auth_user_id" not in client.session


def test_signing_out_ends_only_this_session() -> None:
    member = _member()
    phone, laptop = portal_client(member), portal_client(member)
    before = _state()
    response = phone.post("/portal/sign-out/")
    assert response.status_code == 302
    assert response["Location"] == "/portal/sign-in/"
    assert phone.get("/portal/").status_code == 302
    assert laptop.get("/portal/").status_code == 200
    assert _state() == before


def test_signing_out_everywhere_ends_every_session_and_new_ones_work() -> None:
    member = _member()
    phone, laptop = portal_client(member), portal_client(member)
    assert member_sign_out_everywhere(member=member) == 1
    assert member_sign_out_everywhere(member=member) == 2
    assert phone.get("/portal/").status_code == 302
    assert laptop.get("/portal/").status_code == 302
    assert portal_client(member).get("/portal/").status_code == 200


def test_sign_out_needs_a_post_with_the_csrf_token() -> None:
    member = _member()
    client = portal_client(member)
    assert client.get("/portal/sign-out/").status_code == 405
    strict = Client(HTTP_HOST=public_host(), enforce_csrf_checks=True)
    strict.cookies = client.cookies
    assert strict.post("/portal/sign-out/").status_code == 403
    assert client.get("/portal/").status_code == 200


def test_each_visit_restarts_the_idle_limit() -> None:
    client = portal_client(_member())
    with override_settings(LOYALTY_MEMBER_SESSION_IDLE_SECONDS=120):
        assert client.get("/portal/").status_code == 200
        assert client.session.get_expiry_age() == 120


def test_the_sign_in_page_is_public_and_a_signed_in_member_goes_home() -> None:
    anonymous = Client(HTTP_HOST=public_host())
    assert anonymous.get("/portal/sign-in/").status_code == 200
    assert portal_client(_member()).get("/portal/sign-in/")["Location"] == "/portal/"


def test_the_portal_lives_on_the_public_host_only(partner_a: Partner) -> None:
    assert Client(HTTP_HOST="alpha.localhost").get("/portal/").status_code == 404
