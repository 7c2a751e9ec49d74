"""A manager serves a member in a browser: a purchase recorded through the partner
API shows on the member's page with its points breakdown; the manager returns one
line from the console and reads the history. Every page passes the accessibility
check, fetches nothing from outside the machine, and is photographed at desktop and
phone size."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from playwright.sync_api import expect

from tenants.staff import services as staff
from tests.testkit.api import enrol, gql, host_of, onboard, partner_key, publish_rules, receipt
from tests.testkit.browser import check_page

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"
PURCHASE = """mutation($key: String!, $receipt: ReceiptInput!) {
  recordPurchase(idempotencyKey: $key, receipt: $receipt) {
    purchase { points } errors { field code message } } }"""


def test_a_manager_finds_a_member_reads_a_purchase_and_returns_a_line(
    browser_page: Any, live_server_url: str
) -> None:
    # a partner of its own: the rules published here must not show in other journeys
    partner_a = onboard(prefix="shop", currency="EUR")
    host = host_of(partner_a)
    manager = staff.staff_member_create(
        partner_id=partner_a.pk,
        email=f"manager-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="manager",
    )
    # given a purchase of two lines recorded by the till through the API
    publish_rules(partner_a)
    member = enrol("journey")
    sale = receipt(member.member_number, partner_a.default_currency, [(2, 1000), (1, 500)])
    reply = gql(host_of(partner_a), PURCHASE, {"key": uuid4().hex, "receipt": sale},
                partner_key(partner_a))  # fmt: skip
    assert reply.body["data"]["recordPurchase"]["errors"] == [], reply.body
    page = browser_page.page

    # when the manager signs in and looks the member up by e-mail
    page.goto(browser_page.url("/", host=host))
    page.get_by_label("E-mail address").fill(manager.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Members").click()
    page.get_by_label("E-mail, member number or card number").fill("nobody@example.com")
    page.get_by_role("button", name="Find member").click()
    expect(page.get_by_text("No member found")).to_be_visible()
    check_page(browser_page, "console-members-not-found")
    page.get_by_label("E-mail, member number or card number").fill(member.email)
    page.get_by_role("button", name="Find member").click()

    # then the member's page shows the balance and the purchase
    expect(page.get_by_role("heading", name=f"Member {member.member_number}")).to_be_visible()
    check_page(browser_page, "console-member")
    page.get_by_role("link", name=sale["externalId"]).click()
    expect(page.get_by_role("heading", name="How the points add up")).to_be_visible()
    check_page(browser_page, "console-purchase")

    # when the manager returns more units than were bought, then one tea
    page.get_by_label("Line 1: SKU1").fill("3")
    page.get_by_role("button", name="Record return").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "console-purchase-return-error")
    page.get_by_label("Line 1: SKU1").fill("1")
    page.get_by_role("button", name="Record return").click()

    # then the points of that unit are taken back and the return is listed
    expect(page.get_by_text("Return recorded: 10 points taken back.")).to_be_visible()
    check_page(browser_page, "console-purchase-returned")

    # and the history lists the purchase and the return, filterable by kind
    page.get_by_role("link", name=f"Back to member {member.member_number}").click()
    page.get_by_role("link", name="Full history").click()
    expect(page.get_by_role("cell", name="Points taken back (return)")).to_be_visible()
    check_page(browser_page, "console-member-history")
