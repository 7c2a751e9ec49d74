"""A cashier at the till in a browser: looks a member's voucher up by the code as the
member reads it, uses it, and is told plainly when it comes back; then takes a
points payment (the check page first), captures part of it, and voids another after
the confirmation. Every page passes the accessibility check, fetches nothing from
outside the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from playwright.sync_api import expect

from coalition.ledger import selectors as ledger_selectors
from tenants.rewards.models import PointsPayment, Voucher
from tenants.staff import services as staff
from tests.testkit import in_partner
from tests.testkit.api import onboard
from tests.testkit.browser import check_page
from tests.testkit.till import member_with_points, set_point_value, voucher_of

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"


def test_a_cashier_uses_a_voucher_and_takes_points_as_payment(
    browser_page: Any, live_server_url: str
) -> None:
    # a partner of its own (browser tests share committed data), where a point pays
    # for one cent, and a member with 3,000 points and a voucher for a free coffee
    partner = onboard(prefix="cafe", currency="EUR")
    host = f"{partner.slug}.localhost"
    cashier = staff.staff_member_create(
        partner_id=partner.pk,
        email=f"cashier-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="cashier",
    )
    set_point_value(partner, "1")
    member = member_with_points(partner, 3000)
    voucher = voucher_of(partner, member, name="Free coffee")
    page = browser_page.page

    # when the cashier signs in and opens the till
    page.goto(browser_page.url("/", host=host))
    page.get_by_label("E-mail address").fill(cashier.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Till").click()
    expect(page.get_by_role("heading", name="Till", exact=True)).to_be_visible()
    check_page(browser_page, "console-till")

    # and types the voucher code as the member reads it, in small letters with dashes
    typed = f"{voucher.code[:4]}-{voucher.code[4:8]}-{voucher.code[8:]}".lower()
    page.get_by_label("Voucher code").fill(typed)
    page.get_by_role("button", name="Check voucher").click()
    # then the reward, its state and the member show, with the button to use it
    expect(page.get_by_role("heading", name="Free coffee")).to_be_visible()
    expect(page.get_by_text("Ready to use")).to_be_visible()
    expect(page.get_by_text(member.member_number)).to_be_visible()
    check_page(browser_page, "console-till-voucher")
    page.get_by_role("button", name="Use voucher").click()
    expect(page.get_by_text("Voucher used: give the member “Free coffee”.")).to_be_visible()
    with in_partner(partner):
        assert Voucher.objects.get(pk=voucher.pk).status == "consumed"

    # when the same code is checked again, the till says it was used
    page.get_by_label("Voucher code").fill(voucher.code)
    page.get_by_role("button", name="Check voucher").click()
    expect(page.get_by_text("Already used")).to_be_visible()
    expect(page.get_by_text("Do not give the reward again.")).to_be_visible()
    check_page(browser_page, "console-till-voucher-used")
    # and a code that is no voucher of this partner is an error next to the box
    page.get_by_label("Voucher code").fill("0000-0000-00000")
    page.get_by_role("button", name="Check voucher").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "console-till-voucher-unknown")

    # when the member pays 12,50 EUR with points
    page.get_by_role("link", name="Back to the till").click()
    page.get_by_label("Member number or card number").fill(member.member_number)
    page.get_by_label("Amount to pay with points (EUR)").fill("12,50")
    page.get_by_role("button", name="Check the points").click()
    # then the check shows the points it takes and the balance before and after
    expect(page.get_by_role("heading", name="Check with the member")).to_be_visible()
    # (3,000 less the 100 the voucher took)
    expect(page.get_by_text("1,250", exact=True)).to_be_visible()
    expect(page.get_by_text("2,900", exact=True)).to_be_visible()
    expect(page.get_by_text("1,650", exact=True)).to_be_visible()
    check_page(browser_page, "console-till-payment-check")
    page.get_by_role("button", name="Authorise payment").click()
    expect(page.get_by_text("Payment authorised: 1,250 points held for 12.50 EUR.")).to_be_visible()
    check_page(browser_page, "console-till-open-payments")

    # and the sale comes to 10,00 only: part of it is captured, the rest goes back
    page.get_by_role("link", name=f"Capture 12.50 EUR of member {member.member_number}").click()
    page.get_by_label("Amount to take (EUR)").fill("10,00")
    check_page(browser_page, "console-till-capture")
    page.get_by_role("button", name="Capture payment").click()
    expect(page.get_by_text("Payment captured: 1,000 points for 10.00 EUR.")).to_be_visible()
    assert ledger_selectors.balance(member.pk) == 1900

    # when another payment is authorised and then voided after the confirmation
    page.get_by_label("Member number or card number").fill(member.member_number)
    page.get_by_label("Amount to pay with points (EUR)").fill("5")
    page.get_by_role("button", name="Check the points").click()
    page.get_by_role("button", name="Authorise payment").click()
    page.get_by_role("link", name=f"Void 5.00 EUR of member {member.member_number}").click()
    expect(page.get_by_role("heading", name="Void the payment of 5.00 EUR?")).to_be_visible()
    check_page(browser_page, "console-till-void")
    page.get_by_role("button", name="Void payment").click()
    expect(page.get_by_text("Payment voided: 500 points went back to the member.")).to_be_visible()
    expect(page.get_by_text("No payments waiting")).to_be_visible()
    assert ledger_selectors.balance(member.pk) == 1900
    with in_partner(partner):
        statuses = sorted(PointsPayment.objects.values_list("status", flat=True))
    assert statuses == ["captured", "voided"]
