"""Signing in to the operator console: the password, then the code for those with
two-step sign-in; admins and finance without it are sent to set it up; a console
session is useless on /operator/ and an operator session useless on a partner's
host; CSRF is checked; signing out ends the session; the session expires."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from coalition.operators import services
from tenants.partners.models import Partner
from tests.testkit import host_client
from tests.testkit.operator import PASSWORD, login_as, operator, signed_in
from tests.testkit.portal import public_host
from tests.testkit.two_factor import code_for, wrong

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, user: Any, password: str = PASSWORD) -> Any:
    return client.post("/operator/login/", {"email": user.email, "password": password})


def test_support_signs_in_with_a_password_and_out_again() -> None:
    user = operator("support")
    client = host_client(public_host())
    assert client.get("/operator/partners/")["Location"] == (
        "/operator/login/?next=%2Foperator%2Fpartners%2F"
    )
    response = _sign_in(client, user)
    assert response.status_code == 302
    assert response["Location"] == "/operator/partners/"
    assert client.get("/operator/partners/").status_code == 200
    assert 0 < client.session.get_expiry_age() <= settings.LOYALTY_STAFF_SESSION_SECONDS
    client.post("/operator/logout/")
    assert client.get("/operator/partners/").status_code == 302


def test_a_wrong_password_shows_next_to_the_form_and_counts() -> None:
    user = operator("read_only")
    client = host_client(public_host())
    response = _sign_in(client, user, "not it")
    assert response.status_code == 400
    assert "The e-mail address or password is not right" in response.content.decode()
    assert client.get("/operator/partners/").status_code == 302


def test_an_admin_with_two_step_sign_in_enters_a_code() -> None:
    user = operator("admin")
    client = host_client(public_host())
    response = _sign_in(client, user)
    assert response["Location"] == "/operator/login/code/"
    # not signed in yet
    assert client.get("/operator/partners/").status_code == 302
    refused = client.post("/operator/login/code/", {"code": wrong(code_for(user))})
    assert refused.status_code == 400
    assert "That code is not right" in refused.content.decode()
    # (the app slows down guessing: a wrong code makes the next one wait a second)
    TOTPDevice.objects.filter(user_id=user.pk).update(throttling_failure_count=0)
    done = client.post("/operator/login/code/", {"code": code_for(user, step_ahead=1)})
    assert done["Location"] == "/operator/partners/"
    assert client.get("/operator/partners/").status_code == 200


def test_a_finance_operator_without_two_step_is_sent_to_set_it_up() -> None:
    user = operator("finance", two_step=False)
    client = host_client(public_host())
    response = _sign_in(client, user)
    assert response["Location"] == "/operator/account/two-step/"
    page = client.get("/operator/account/two-step/").content.decode()
    assert "needs two-step sign-in" in page
    client.post("/operator/account/two-step/", {"action": "start"})
    done = client.post("/operator/account/two-step/", {"action": "confirm", "code": code_for(user)})
    assert done["Location"] == "/operator/partners/"
    assert client.get("/operator/partners/").status_code == 200
    # and the role cannot turn it off again
    client.post(
        "/operator/account/two-step/", {"action": "disable", "code": code_for(user, step_ahead=1)}
    )
    from tenants.staff.two_factor import two_factor_enabled

    assert two_factor_enabled(user)


def test_a_console_session_is_useless_on_the_operator_console(partner_a: Partner) -> None:
    # an owner of alpha who is also operator staff, signed in to alpha's console only
    client, user = login_as("partner_staff", partner_a)
    services.operator_create(email=user.email, role="support")
    response = client.get("/operator/partners/")
    assert response.status_code == 302
    assert response["Location"].startswith("/operator/login/")


def test_an_operator_session_is_useless_on_a_partners_host(partner_a: Partner) -> None:
    from tenants.staff.services import staff_member_create

    user = operator("support")
    staff_member_create(partner_id=partner_a.pk, email=user.email, password=PASSWORD, role="owner")
    client = signed_in(user)
    client.defaults["HTTP_HOST"] = f"{partner_a.slug}.localhost"
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_sign_in_and_changes_need_the_csrf_token() -> None:
    user = operator("admin")
    client = Client(HTTP_HOST=public_host(), enforce_csrf_checks=True)
    assert _sign_in(client, user).status_code == 403
    signed = signed_in(user)
    signed.handler.enforce_csrf_checks = True
    assert signed.post("/operator/logout/").status_code == 403
