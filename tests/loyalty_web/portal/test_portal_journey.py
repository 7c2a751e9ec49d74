"""A visitor joins the member portal with only an e-mail address on a phone, signs
in with the code from the e-mail and sees the home with points from two partners and
points expiring soon. Each page passes the accessibility check and is photographed
at desktop and phone size."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from playwright.sync_api import expect

from coalition.ledger import services as ledger
from coalition.members.models import Member
from loyalty_kernel import clock
from tenants.partners.models import Partner
from tests.testkit.browser import check_page

pytestmark = pytest.mark.slow


def test_a_visitor_joins_signs_in_with_the_e_mailed_code_and_sees_the_home(
    browser_page: Any, partner_a: Partner, partner_b: Partner
) -> None:
    page = browser_page.page
    page.set_viewport_size({"width": 375, "height": 800})
    email = f"journey-{uuid4().hex[:8]}@example.com"
    page.goto(browser_page.url("/portal/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_page(browser_page, "portal-sign-in")
    page.get_by_role("link", name="Not a member yet? Join").click()
    check_page(browser_page, "portal-join")
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    check_page(browser_page, "portal-code")

    member = Member.objects.get(email=email)
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=120)
    ledger.earn(
        member_id=member.pk,
        partner_id=partner_b.pk,
        points=45,
        expires_at=clock.now() + timedelta(days=20),
    )
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert code
    page.get_by_label("Code from the e-mail").fill(code.group(1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your points", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="Alpha Grocers")).to_be_visible()
    expect(page.get_by_role("cell", name="Beta Airways").first).to_be_visible()
    expect(page.get_by_text("Expiring within 30 days")).to_be_visible()
    check_page(browser_page, "portal-home")

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
