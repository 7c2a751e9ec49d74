"""An operator admin opens the operator staff page, sends the invitation form empty
(the problems next to their fields), then invites a finance operator. The invitee,
in another browser, opens the e-mailed link, chooses a password, is asked to set
up two-step sign-in (finance needs it), sets it up, signs out and signs in again
with a password and a code. The admin then sees them listed with two-step sign-in
on, and removes their access after a confirmation. Every page passes the
accessibility check, fetches nothing from outside the machine, and is
photographed at desktop and phone size."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from coalition.operators.models import OperatorMembership
from tests.testkit.browser import check_page, open_page
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.slow


def _sign_in(session: Any, email: str, code: str | None = None) -> None:
    page = session.page
    page.goto(session.url("/operator/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if code is not None:
        expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
        page.get_by_label("Code from your authenticator app").fill(code)
        page.get_by_role("button", name="Sign in").click()


def test_an_admin_invites_a_finance_operator_who_joins_with_two_step_sign_in(
    browser_page: Any, chromium: Any, live_server_url: str
) -> None:
    admin = operator("admin")
    invitee_email = f"finance-{uuid4().hex[:8]}@example.com"
    page = browser_page.page

    # given the admin signed in (the set-up used the current code: the app's next one)
    _sign_in(browser_page, admin.email, code_for(admin, step_ahead=1))
    expect(page.get_by_role("heading", name="Partners")).to_be_visible()

    # when they open the operator staff page and send the invitation form empty
    page.get_by_role("navigation", name="Operator console").get_by_role(
        "link", name="Operator staff"
    ).click()
    expect(page.get_by_role("heading", name="Operator staff", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=f"{admin.email} you")).to_be_visible()
    check_page(browser_page, "operator-staff")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "operator-staff-invite-error")

    # then fill it in: a finance operator
    page.get_by_label("E-mail address").fill(invitee_email)
    page.get_by_label("Role", exact=True).select_option("finance")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text(f"Invitation sent to {invitee_email} as Finance.")).to_be_visible()
    expect(page.get_by_role("cell", name=invitee_email, exact=True)).to_be_visible()

    # the invitee gets an e-mail with a link on the public host that works once
    (message,) = [m for m in mail.outbox if invitee_email in m.to]
    link = re.search(r"http://\S+/operator/invitation/\S+/", message.body)
    assert link is not None
    for invitee in open_page(chromium, live_server_url):
        other = invitee.page
        other.goto(link.group(0))
        expect(other.get_by_role("heading", name="Accept your invitation")).to_be_visible()
        expect(other.get_by_text("as Finance")).to_be_visible()
        check_page(invitee, "operator-invitation")
        other.get_by_label("Choose a password").fill(PASSWORD)
        other.get_by_label("Type the password again").fill(PASSWORD)
        other.get_by_role("button", name="Accept and sign in").click()

        # and is asked to set up two-step sign-in before anything else
        expect(other.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
        expect(
            other.get_by_text("Your role (admin or finance) needs two-step sign-in")
        ).to_be_visible()
        check_page(invitee, "operator-invitee-two-step")
        other.get_by_role("button", name="Set up two-step sign-in").click()
        expect(other.get_by_role("heading", name="2. Enter the code the app shows")).to_be_visible()
        user = get_user_model().objects.get(username=invitee_email)
        other.get_by_label("Code from your authenticator app").fill(code_for(user))
        other.get_by_role("button", name="Turn on two-step sign-in").click()
        expect(other.get_by_role("heading", name="Partners")).to_be_visible()
        # finance sees no operator staff page
        navigation = other.get_by_role("navigation", name="Operator console")
        expect(navigation.get_by_role("link", name="Partners")).to_be_visible()
        expect(navigation.get_by_role("link", name="Operator staff")).to_have_count(0)

        # then signs out and in again, with the password and the app's next code
        other.get_by_role("button", name="Sign out").click()
        expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
        _sign_in(invitee, invitee_email, code_for(user, step_ahead=1))
        expect(other.get_by_role("heading", name="Partners")).to_be_visible()

        # and the used link does not work again
        other.goto(link.group(0))
        expect(other.get_by_role("heading", name="This invitation cannot be used")).to_be_visible()

    # when the admin looks again: the new operator, as finance, with two-step sign-in on
    page.reload()
    row = page.get_by_role("row").filter(has_text=invitee_email)
    expect(row.get_by_text("On", exact=True)).to_be_visible()
    expect(row.get_by_role("combobox")).to_have_value("finance")

    # then removes their access, after a confirmation
    row.get_by_role("link", name=re.compile("^Remove")).click()
    expect(page.get_by_role("heading", name=f"Remove {invitee_email}?")).to_be_visible()
    check_page(browser_page, "operator-staff-remove")
    page.get_by_role("button", name="Remove access").click()
    expect(
        page.get_by_text(f"{invitee_email} no longer has access to the operator console.")
    ).to_be_visible()
    assert not OperatorMembership.objects.filter(user__username=invitee_email).exists()
