"""Partner staff in a browser: sign in, invite a cashier who accepts from the
e-mail, read the audit log. Each page passes the accessibility check, fetches
nothing from outside the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from playwright.sync_api import expect

from tenants.staff import services as staff
from tests.testkit.api import onboard
from tests.testkit.browser import check_page, open_page

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"


def _sign_in(session: Any, host: str, email: str, password: str) -> None:
    page = session.page
    page.goto(session.url("/", host=host))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_owner_invites_a_cashier_who_joins_from_the_email(
    browser_page: Any, chromium: Any, live_server_url: str
) -> None:
    # a partner of its own: browser tests share committed data, and what one
    # journey creates (rule versions, keys) must not show in another
    partner_a = onboard(prefix="shop", currency="EUR")
    host = f"{partner_a.slug}.localhost"
    owner = staff.staff_member_create(
        partner_id=partner_a.pk,
        email=f"owner-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="owner",
    )
    page = browser_page.page

    # given the console asks who you are
    page.goto(browser_page.url("/", host=host))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_page(browser_page, "console-login")

    # when the owner mistypes the password, the form says what is wrong, at the top and by the field
    _sign_in(browser_page, host, owner.user.email, "not the password")
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_text("The e-mail address or password is not right").first).to_be_visible()
    check_page(browser_page, "console-login-error")

    # and with the right one they land on the dashboard, with its chart
    _sign_in(browser_page, host, owner.user.email, PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^Points issued and redeemed"))).to_be_visible()
    check_page(browser_page, "console-dashboard")

    # when they invite a cashier
    page.get_by_role("link", name="Staff").click()
    cashier_email = f"cashier-{uuid4().hex[:8]}@example.com"
    mail.outbox.clear()
    page.get_by_label("E-mail address").fill(cashier_email)
    page.get_by_label("Role", exact=True).select_option("cashier")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {cashier_email} as Cashier.")).to_be_visible()
    expect(page.get_by_role("cell", name=cashier_email, exact=True)).to_be_visible()
    check_page(browser_page, "console-staff")

    # then the cashier gets an e-mail with a link that signs them up once
    (message,) = [m for m in mail.outbox if cashier_email in m.to]
    link = re.search(r"http://\S+/invitations/\S+/", message.body)
    assert link is not None
    for cashier in open_page(chromium, live_server_url):
        cashier.page.goto(link.group(0))
        expect(cashier.page.get_by_role("heading", name="Accept your invitation")).to_be_visible()
        check_page(cashier, "console-invitation")
        cashier.page.get_by_label("Choose a password").fill(PASSWORD)
        cashier.page.get_by_label("Type the password again").fill(PASSWORD)
        cashier.page.get_by_role("button", name="Accept and sign in").click()
        expect(cashier.page.get_by_role("heading", name="Dashboard")).to_be_visible()
        # a cashier sees no staff or audit pages in the navigation
        navigation = cashier.page.get_by_role("navigation", name="Console")
        assert navigation.get_by_role("link").all_inner_texts() == [
            "Dashboard",
            "Members",
            "Till",
            "Stores",
            "Earn rules",
            "Campaigns",
            "Rewards",
            "Point value",
        ]
        # and the used link does not work again
        cashier.page.goto(link.group(0))
        expect(
            cashier.page.get_by_role("heading", name="This invitation cannot be used")
        ).to_be_visible()

    # and the owner reads who joined in the audit log
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name=re.compile("staff.join")).first).to_be_visible()
    check_page(browser_page, "console-audit")
