"""Two-step sign-in in the console: every member of staff manages their own; a
password alone no longer opens a session when it is on; the code step expires and
belongs to the partner where the password was typed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from loyalty_kernel import clock
from loyalty_web.console.access import SESSION_PARTNER
from loyalty_web.console.views import SESSION_SECOND_STEP
from tenants.partners.models import Partner
from tenants.staff import two_factor
from tests.testkit import host_client
from tests.testkit.console import ALL_STAFF, ROLES, assert_answer, login_as
from tests.testkit.two_factor import PASSWORD, code_for, staff_member, turned_on

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ROLES)
def test_every_member_of_staff_manages_their_own_two_step_sign_in(
    role: str, partner_a: Partner, partner_b: Partner
) -> None:
    client, user = login_as(partner_a, role, partner_b)
    devices = TOTPDevice.objects.count()
    page = client.get("/account/two-step/")
    allowed = assert_answer(page, role=role, allowed=ALL_STAFF, page="two-step")
    started = client.post("/account/two-step/", {"action": "start"})
    assert_answer(started, role=role, allowed=ALL_STAFF, page="two-step start")
    if allowed:
        assert b"<svg" in started.content
        assert TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).count() == 1
    else:
        assert TOTPDevice.objects.count() == devices  # a denied request changes nothing


def _password(client: Any, email: str, next_url: str = "/") -> Any:
    return client.post("/login/", {"email": email, "password": PASSWORD, "next": next_url})


def test_with_two_step_sign_in_the_session_starts_only_after_the_code(
    partner_a: Partner,
) -> None:
    user = turned_on(staff_member(partner_a), partner_a)
    client = host_client(f"{partner_a.slug}.localhost")

    # when the password is right, the console asks for the code, and nothing opens yet
    answer = _password(client, user.email, "/staff/")
    assert answer.status_code == 302
    assert answer["Location"] == "/login/code/"
    assert client.get("/").status_code == 302
    assert SESSION_PARTNER not in client.session

    # and a wrong code is refused next to the field
    refused = client.post("/login/code/", {"code": "12345"})
    assert refused.status_code == 400
    assert b"That code is not right" in refused.content

    # then the right code opens the session, where the person was going
    TOTPDevice.objects.filter(user_id=user.pk).update(throttling_failure_count=0)
    signed_in = client.post("/login/code/", {"code": code_for(user, step_ahead=1)})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/staff/"
    assert client.session[SESSION_PARTNER] == partner_a.pk
    assert SESSION_SECOND_STEP not in client.session
    assert client.get("/").status_code == 200


def test_the_code_step_expires_and_cannot_be_used_elsewhere(
    partner_a: Partner, partner_b: Partner
) -> None:
    user = turned_on(staff_member(partner_a), partner_a)
    client = host_client(f"{partner_a.slug}.localhost")
    _password(client, user.email)

    # when five minutes have passed, the code page sends the person back to sign in
    session = client.session
    session[SESSION_SECOND_STEP]["until"] = (clock.now() - timedelta(seconds=1)).isoformat()
    session.save()
    expired = client.post("/login/code/", {"code": code_for(user, step_ahead=1)})
    assert expired.status_code == 302
    assert expired["Location"] == "/login/"
    assert SESSION_PARTNER not in client.session

    # and a code step begun at partner A means nothing on partner B's console
    _password(client, user.email)
    other = host_client(f"{partner_b.slug}.localhost")
    other.cookies = client.cookies
    elsewhere = other.post("/login/code/", {"code": code_for(user, step_ahead=1)})
    assert elsewhere.status_code == 302
    assert elsewhere["Location"] == "/login/"
    assert SESSION_PARTNER not in other.session
    # and without a password first there is no code step at all
    fresh = host_client(f"{partner_a.slug}.localhost").get("/login/code/")
    assert fresh.status_code == 302
    assert fresh["Location"] == "/login/"


def test_turning_it_on_and_off_from_the_page(partner_a: Partner, partner_b: Partner) -> None:
    client, user = login_as(partner_a, "cashier", partner_b)
    client.post("/account/two-step/", {"action": "start"})
    wrong = client.post("/account/two-step/", {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 400
    assert b"<svg" in wrong.content  # the same key again, next to the error
    assert not two_factor.two_factor_enabled(user)
    TOTPDevice.objects.filter(user_id=user.pk).update(throttling_failure_count=0)
    on = client.post("/account/two-step/", {"action": "confirm", "code": code_for(user)})
    assert on.status_code == 302
    assert two_factor.two_factor_enabled(user)
    assert b"Two-step sign-in is on" in client.get("/account/two-step/").content
    off = client.post(
        "/account/two-step/", {"action": "disable", "code": code_for(user, step_ahead=1)}
    )
    assert off.status_code == 302
    assert not two_factor.two_factor_enabled(user)
