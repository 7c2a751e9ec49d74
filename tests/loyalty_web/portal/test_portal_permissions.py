"""Who may open the member portal: only the member the session was started for,
while active, not expired and not signed out everywhere. Staff and operator logins
on the public host are not members; everyone else is sent to sign in, with the page
they asked for, and a denied request changes nothing.

Every URL of the portal is in the matrix below (a test fails for a URL without its
row): anonymous visitors are sent to sign in from each member URL, GET and POST;
every POST needs the CSRF token; another member can neither open nor act on the
owner's voucher, household invitation or privacy links, and no member page shows
anything of another member's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import override_settings
from django.urls import resolve

from coalition.charity.models import Donation
from coalition.ledger.models import Account
from coalition.ledger.selectors import account_balances
from coalition.member_auth.models import MemberSessionGeneration, MemberSignInAttempt
from coalition.member_auth.services import member_sign_out_everywhere
from coalition.members.models import Member, MemberChange, MemberPrivacyRequest, MemberStatus
from coalition.members.services import member_enrol
from coalition.notifications.models import NotificationKind, NotificationPreference
from coalition.transfers.models import HouseholdInvite, HouseholdMembership, TransferRecord
from loyalty_kernel import clock
from loyalty_kernel.tenancy import use_public_schema
from loyalty_web.console.access import SESSION_PARTNER
from loyalty_web.portal import urls as portal_urls
from loyalty_web.portal.access import SESSION_MEMBER, SESSION_STARTED
from tenants.partners.models import Partner
from tenants.rewards.models import Voucher
from tenants.staff.services import staff_member_create
from tests.testkit import in_partner
from tests.testkit.console import PASSWORD
from tests.testkit.portal import MEMBER, PUBLIC, ROUTES, portal_client, portal_world, public_host

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


# --- every portal URL ------------------------------------------------------------------
#
# Each URL of ``loyalty_web/portal/urls.py`` by name: its path (placeholders filled
# from the world below), the methods it answers and whether it is public (signing in)
# or a member's page. A new URL without its row fails the first test.

CALLS = [(name, method) for name, (_, methods, _) in ROUTES.items() for method in methods]
MEMBER_CALLS = [call for call in CALLS if ROUTES[call[0]][2] == MEMBER]
# One-click unsubscribe (RFC 8058): mail clients POST the signed link without a
# session or a CSRF token; the signed token authorises it (tested below).
CSRF_EXEMPT = {"unsubscribe"}
POSTS = [call for call in CALLS if call[1] == "post" and call[0] not in CSRF_EXEMPT]
# What a visitor without a session gets from a GET of each public URL.
PUBLIC_GETS = {
    "join": 200,
    "sign_in": 200,
    "sign_in_code": 302,  # no code asked for: back to sign in
    "sign_in_link": 200,  # a button; only its POST signs in
    "unsubscribe": 200,  # a button; only its POST switches e-mails off
}


def _form(world: dict[str, Any]) -> dict[str, str]:
    """Everything any portal form asks for, valid, aimed at the owner's things."""
    return {
        "email": world["owner"].email,
        "code": "123456",
        "points": "10",
        "idempotency_key": f"perm-{uuid4().hex[:6]}",
        "step": "confirm",
        "recipient": world["owner"].member_number,
        "name": "Ours",
        "phone": "+34600000000",
        "country": "ES",
        "t": world["erase_token"],
    }


def _url(name: str, world: dict[str, Any]) -> str:
    return ROUTES[name][0].format(**world)


def _call(client: Client, method: str, url: str, world: dict[str, Any]) -> Any:
    return client.get(url) if method == "get" else client.post(url, _form(world))


def _everything(partner: Partner) -> dict[str, Any]:
    """All a portal request could change, the partner's vouchers included."""
    accounts = list(Account.objects.values_list("pk", flat=True))
    with in_partner(partner):
        vouchers = sorted(Voucher.objects.values_list("code", "status", "member_id"))
    use_public_schema()
    return {
        "members and sessions": _state(),
        "profiles": sorted(
            Member.objects.values_list(
                "pk", "phone", "birth_date", "country", "marketing_email_consent"
            )
        ),
        "balances": sorted(account_balances(accounts).items()),
        "vouchers": vouchers,
        "donations": Donation.objects.count(),
        "transfers": TransferRecord.objects.count(),
        "households": sorted(HouseholdMembership.objects.values_list("household_id", "member_id")),
        "invites": sorted(HouseholdInvite.objects.values_list("pk", "accepted_at")),
        "privacy requests": sorted(MemberPrivacyRequest.objects.values_list("pk", "used_at")),
        "member changes": MemberChange.objects.count(),
        "sign-in attempts": MemberSignInAttempt.objects.count(),
        "e-mail choices": sorted(
            NotificationPreference.objects.values_list("member_id", "kind", "enabled")
        ),
    }


def test_the_matrix_names_every_portal_url() -> None:
    # given / when: the names of the portal's URLs
    names = {pattern.name for pattern in portal_urls.urlpatterns}

    # then: each has its row here, and each row's path resolves to its view
    assert set(ROUTES) == names
    for name, (template, _methods, _access) in ROUTES.items():
        path = template.split("?")[0].format(
            entry=1, slug="alpha", code="ABC", charity="c", invite=1, unsubscribe_token="x"
        )
        assert resolve(path, settings.PUBLIC_SCHEMA_URLCONF).url_name == name, (name, path)


@pytest.mark.parametrize(("name", "method"), MEMBER_CALLS)
def test_anonymous_visitors_are_sent_to_sign_in_from_every_member_url(
    name: str, method: str, partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the owner's things, and a visitor with no session
    world = portal_world(partner_a, django_capture_on_commit_callbacks)
    url = _url(name, world)
    before = _everything(partner_a)

    # when: the visitor calls the URL (a POST with a whole valid form)
    answer = _call(Client(HTTP_HOST=public_host()), method, url, world)

    # then: sent to sign in, coming back to this URL, and nothing changed
    assert answer.status_code == 302, (name, method, answer.status_code)
    assert answer["Location"] == "/portal/sign-in/?" + urlencode({"next": url}), name
    assert _everything(partner_a) == before


@pytest.mark.parametrize(("name", "method"), POSTS)
def test_every_portal_post_needs_the_csrf_token(
    name: str, method: str, partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a signed-in member (a visitor for the public forms) whose client
    # checks CSRF as a browser's request would be checked
    world = portal_world(partner_a, django_capture_on_commit_callbacks)
    if ROUTES[name][2] == MEMBER:
        client = portal_client(world["owner"])
        client.handler.enforce_csrf_checks = True
    else:
        client = Client(HTTP_HOST=public_host(), enforce_csrf_checks=True)
    before = _everything(partner_a)

    # when: the form is posted without the token
    answer = client.post(_url(name, world), _form(world))

    # then: refused, and nothing changed
    assert answer.status_code == 403, (name, answer.status_code)
    assert _everything(partner_a) == before


def test_the_public_urls_answer_a_visitor_and_a_get_changes_nothing(
    partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the owner's things, and a visitor with no session
    world = portal_world(partner_a, django_capture_on_commit_callbacks)
    assert set(PUBLIC_GETS) == {name for name, (_, _, access) in ROUTES.items() if access == PUBLIC
                                and "get" in ROUTES[name][1]}  # fmt: skip
    before = _everything(partner_a)

    # when / then: each public page answers, and opening it changes nothing
    for name, status in PUBLIC_GETS.items():
        answer = Client(HTTP_HOST=public_host()).get(_url(name, world))
        assert answer.status_code == status, (name, answer.status_code)
    assert _everything(partner_a) == before


def test_one_click_unsubscribe_needs_no_csrf_token_but_only_switches_e_mails_off(
    partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the owner's signed unsubscribe link, posted by a mail client (no
    # session, no CSRF token), and a made-up one
    world = portal_world(partner_a, django_capture_on_commit_callbacks)
    client = Client(HTTP_HOST=public_host(), enforce_csrf_checks=True)
    before = _everything(partner_a)

    # when: a made-up token is posted, then the owner's
    forged = client.post("/portal/unsubscribe/forged-token/")
    after_forged = _everything(partner_a)
    answer = client.post(_url("unsubscribe", world))

    # then: the forged one changes nothing; the signed one switches off that one
    # kind of e-mail for its member (the consent change recorded), nothing else
    assert forged.status_code == 400
    assert after_forged == before
    assert answer.status_code == 200
    after = _everything(partner_a)
    assert after.pop("e-mail choices") == [
        (world["owner"].pk, NotificationKind.POINTS_EARNED.value, False)
    ]
    assert after.pop("member changes") == before.pop("member changes") + 1
    before.pop("e-mail choices")
    assert after == before


# The member URLs naming one of the owner's things, called by another member:
# what each answers (404: unknown to them; 400: the domain refuses it).
OWNERS_THINGS = {
    ("voucher", "get"): 404,
    ("voucher_cancel", "post"): 404,
    ("household_accept", "post"): 400,
    ("export_confirm", "get"): 400,
    ("export_confirm", "post"): 400,
    ("erase_confirm", "get"): 400,
    ("erase_confirm", "post"): 400,
}


@pytest.mark.parametrize(("name", "method"), list(OWNERS_THINGS))
def test_another_member_cannot_open_or_act_on_the_owners_things(
    name: str, method: str, partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the owner's voucher, household invitation and privacy links
    world = portal_world(partner_a, django_capture_on_commit_callbacks)
    intruder = portal_client(world["intruder"])
    before = _everything(partner_a)

    # when: another member calls the URL with them
    answer = _call(intruder, method, _url(name, world), world)

    # then: refused, nothing of the owner's shown, and nothing changed
    assert answer.status_code == OWNERS_THINGS[(name, method)], (name, answer.status_code)
    page = answer.content.decode()
    assert world["code"] not in page
    assert world["owner"].email not in page
    assert _everything(partner_a) == before


@pytest.mark.parametrize(
    "name", [name for name, method in MEMBER_CALLS if method == "get" and name != "voucher"]
)
def test_a_members_pages_show_nothing_of_another_members(
    name: str, partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the owner's voucher, household and history; the intruder signed in
    world = portal_world(partner_a, django_capture_on_commit_callbacks)
    intruder = portal_client(world["intruder"])

    # when: the intruder opens each of their own pages
    answer = intruder.get(_url(name, world))

    # then: none shows the owner's number, address, voucher or household
    page = answer.content.decode()
    for secret in (world["owner"].member_number, world["owner"].email, world["code"],
                   world["household"].name):  # fmt: skip
        assert secret not in page, (name, secret)
