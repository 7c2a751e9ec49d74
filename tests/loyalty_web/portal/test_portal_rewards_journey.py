"""On a phone, a member who collected points at two partners (purchases recorded
through their APIs) signs in, reads why each purchase earned its points and when
they expire, finds a reward of a THIRD partner in the coalition catalogue, redeems
it and sees the voucher with its QR code and barcode; the third partner's cashier
then uses the voucher at the merchant console's till and the member sees it
used. Every page passes the accessibility check and is photographed at desktop
and phone size."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from playwright.sync_api import expect

from coalition.ledger.selectors import balance
from coalition.members.services import member_enrol
from loyalty_kernel.tenancy import use_public_schema
from tenants.rewards.models import Voucher, VoucherStatus
from tenants.staff import services as staff
from tests.testkit import api as s
from tests.testkit import in_partner
from tests.testkit.browser import DESKTOP, PHONE, check_page

pytestmark = pytest.mark.slow

CASHIER_PASSWORD = "correct horse battery 9"


def _phone(page: Any) -> None:
    page.set_viewport_size(PHONE)


def _purchase_through_the_api(partner: Any, member_number: str, total: int) -> int:
    """The partner's till records a purchase over its API; the points it earned."""
    reply = s.gql(
        s.host_of(partner),
        s.RECORD_PURCHASE,
        {
            "key": uuid4().hex,
            "receipt": s.receipt(
                member_number, partner.default_currency, ((1, total),), uuid4().hex[:12]
            ),
        },
        s.partner_key(partner),
    )
    purchase = reply.payload("recordPurchase")
    assert purchase["errors"] == [], purchase
    return int(purchase["purchase"]["points"])


def test_a_member_redeems_a_third_partners_reward_and_its_cashier_uses_the_voucher(
    browser_page: Any,
) -> None:
    # given: three partners of their own; the member collects at the first two
    grocer = s.onboard(prefix="grocer", currency="EUR")
    airline = s.onboard(prefix="airline", currency="EUR")
    cinema = s.onboard(prefix="cinema", currency="EUR")
    for partner in (grocer, airline):
        s.publish_rules(partner)
    tag = uuid4().hex[:6]
    s.reward(cinema, 60, name=f"Cinema ticket {tag}", stock=10, category="Cinema")
    s.reward(cinema, 100_000, name=f"Private screening {tag}", category="cinema")
    s.store(cinema, code=f"C-{tag}")
    member = member_enrol(email=f"rewards-journey-{tag}@example.com")
    earned = _purchase_through_the_api(grocer, member.member_number, 5000)
    earned += _purchase_through_the_api(airline, member.member_number, 4000)
    assert earned >= 60
    assert balance(member.pk) == earned

    # when: the member signs in on a phone with the e-mailed code
    page = browser_page.page
    _phone(page)
    page.goto(browser_page.url("/portal/rewards/"))
    page.get_by_label("E-mail address").fill(member.email)
    page.get_by_role("button", name="E-mail me a code").click()
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert code
    page.get_by_label("Code from the e-mail").fill(code.group(1))
    page.get_by_role("button", name="Sign in").click()

    # then: the history explains each purchase's points, and the lots their expiry
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="Your points history")).to_be_visible()
    page.get_by_text("Why these points").first.click()
    expect(page.get_by_text("1 point per EUR spent").first).to_be_visible()
    check_page(browser_page, "portal-history")
    _phone(page)
    page.get_by_role("link", name="See when your points expire").click()
    expect(page.get_by_role("cell", name=grocer.name).first).to_be_visible()
    check_page(browser_page, "portal-lots")
    _phone(page)
    page.get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", name="Recent activity")).to_be_visible()
    check_page(browser_page, "portal-home-activity")
    _phone(page)
    page.get_by_role("link", name="Rewards").click()

    # then: the catalogue across brands, filtered to the cinema's category
    expect(page.get_by_role("heading", name="Rewards from every partner")).to_be_visible()
    page.get_by_label("Search").fill(tag)
    page.get_by_label("Partner").select_option(label=cinema.name)
    page.get_by_label("Category").select_option(label="Cinema")
    page.get_by_role("button", name="Show rewards").click()
    page.wait_for_url(re.compile(r"partner=.*category=cinema"))
    assert page.get_by_role("heading", name=f"Cinema ticket {tag}").is_visible()
    assert page.get_by_text(re.compile(r"more points needed")).is_visible()
    check_page(browser_page, "portal-rewards")
    _phone(page)

    # when: the member redeems the ticket after checking what it costs
    page.get_by_role("link", name=f"Redeem Cinema ticket {tag}").click()
    expect(page.get_by_role("heading", name=f"Redeem Cinema ticket {tag}")).to_be_visible()
    expect(page.get_by_text("Your balance after")).to_be_visible()
    check_page(browser_page, "portal-reward-redeem")
    _phone(page)
    page.get_by_role("button", name="Spend 60 points").click()

    # then: the voucher, with its QR code and barcode, and where to use it
    expect(page.get_by_text(f"Your voucher for Cinema ticket {tag} is ready")).to_be_visible()
    qr = page.get_by_role("img", name=re.compile("QR code of voucher"))
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.get_by_role("img", name=re.compile("Barcode of voucher"))).to_be_visible()
    expect(page.get_by_text("API test shop")).to_be_visible()
    check_page(browser_page, "portal-voucher")
    _phone(page)
    assert balance(member.pk) == earned - 60
    with in_partner(cinema):
        voucher = Voucher.objects.get(member=member)
    voucher_code = voucher.code
    use_public_schema()

    # when: the cinema's cashier checks the code at the console's till and uses it
    cashier = staff.staff_member_create(
        partner_id=cinema.pk,
        email=f"cashier-{tag}@example.com",
        password=CASHIER_PASSWORD,
        role="cashier",
    )
    page.set_viewport_size(DESKTOP)
    page.goto(browser_page.url("/till/", host=s.host_of(cinema)))
    page.get_by_label("E-mail address").fill(cashier.user.email)
    page.get_by_label("Password").fill(CASHIER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Voucher code").fill(voucher_code.lower())
    page.get_by_role("button", name="Check voucher").click()
    expect(page.get_by_role("heading", name=f"Cinema ticket {tag}")).to_be_visible()
    expect(page.get_by_text(member.member_number)).to_be_visible()
    page.get_by_role("button", name="Use voucher").click()
    expect(
        page.get_by_text(f"Voucher used: give the member “Cinema ticket {tag}”.")
    ).to_be_visible()
    page.goto(browser_page.url("/portal/"))
    _phone(page)

    # then: the member sees it used, with no code left to scan
    page.get_by_role("link", name="My vouchers", exact=True).click()
    expect(page.get_by_role("heading", name="My vouchers")).to_be_visible()
    expect(page.get_by_text("Used", exact=True)).to_be_visible()
    check_page(browser_page, "portal-vouchers")
    _phone(page)
    page.get_by_role("link", name=f"Cinema ticket {tag}").click()
    expect(page.get_by_text("Used on")).to_be_visible()
    assert page.get_by_role("img", name=re.compile("QR code")).count() == 0
    with in_partner(cinema):
        assert Voucher.objects.get(code=voucher_code).status == VoucherStatus.CONSUMED
    use_public_schema()
