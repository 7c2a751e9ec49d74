"""On a phone, a member who collected points at a partner (purchases recorded
through its API) gives some to a charity, sends some to a friend by e-mail after
seeing the yearly cap, starts a household and invites the friend, who signs in,
accepts and pools points to the head. Every page passes the accessibility check and
is photographed at desktop and phone size."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from playwright.sync_api import expect

from coalition.charity.models import Charity, Donation
from coalition.charity.services import charity_create
from coalition.ledger.selectors import balance
from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.transfers.models import HouseholdMembership, TransferCap, TransferKind
from tests.testkit import api as s
from tests.testkit.browser import PHONE, check_page

pytestmark = pytest.mark.slow


def _phone(page: Any) -> None:
    page.set_viewport_size(PHONE)


def _sign_in(browser_page: Any, member: Member, path: str) -> None:
    page = browser_page.page
    page.goto(browser_page.url(path))
    page.get_by_label("E-mail address").fill(member.email)
    page.get_by_role("button", name="E-mail me a code").click()
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert code
    page.get_by_label("Code from the e-mail").fill(code.group(1))
    page.get_by_role("button", name="Sign in").click()


def test_a_member_donates_sends_points_and_shares_a_household_on_a_phone(
    browser_page: Any,
) -> None:
    # given: a partner of its own, a charity, a yearly transfer cap of 500 points
    grocer = s.onboard(prefix="giver", currency="EUR")
    s.publish_rules(grocer)
    tag = uuid4().hex[:6]
    charity_create(slug=f"food-{tag}", name=f"Food bank {tag}")
    # (caps are coalition-wide committed data: put them back for other tests)
    caps = list(TransferCap.objects.all())
    TransferCap.objects.all().delete()
    TransferCap.objects.create(kind=TransferKind.TRANSFER, tier_code="", yearly_points=500)
    try:
        _walk(browser_page, tag, grocer)
    finally:
        TransferCap.objects.all().delete()
        TransferCap.objects.bulk_create(caps)


def _walk(browser_page: Any, tag: str, grocer: Any) -> None:
    charity = Charity.objects.get(slug=f"food-{tag}")
    member = member_enrol(email=f"giver-{tag}@example.com")
    friend = member_enrol(email=f"friend-{tag}@example.com")
    reply = s.gql(
        s.host_of(grocer),
        s.RECORD_PURCHASE,
        {
            "key": uuid4().hex,
            "receipt": s.receipt(member.member_number, "EUR", ((1, 30000),), uuid4().hex[:12]),
        },
        s.partner_key(grocer),
    ).payload("recordPurchase")
    assert reply["errors"] == [], reply
    earned = balance(member.pk)
    assert earned >= 300

    # when: the member signs in on a phone and opens "Give and share"
    page = browser_page.page
    _phone(page)
    _sign_in(browser_page, member, "/portal/give/")
    expect(page.get_by_role("heading", name="Give and share")).to_be_visible()
    check_page(browser_page, "portal-give")
    _phone(page)

    # then: they donate 50 points after checking
    page.get_by_role("link", name=f"Donate to {charity.name}").click()
    page.get_by_label("Points to give").fill("50")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your donation")).to_be_visible()
    check_page(browser_page, "portal-donate-check")
    _phone(page)
    page.get_by_role("button", name="Give 50 points").click()
    expect(page.get_by_text(f"Thank you: you gave 50 points to {charity.name}")).to_be_visible()
    assert Donation.objects.filter(member=member, charity=charity, points=50).exists()

    # when: they send 100 points to the friend by e-mail
    page.get_by_role("link", name="Send points").click()
    expect(page.get_by_text("You can send up to 500 points a year")).to_be_visible()
    page.get_by_label("Their member number or e-mail address").fill("nobody-" + friend.email)
    page.get_by_label("Points to send").fill("100")
    page.get_by_role("button", name="Continue").click()
    # a wrong address is explained next to the field, and what was typed stays
    expect(page.get_by_text("There is a problem")).to_be_visible()
    check_page(browser_page, "portal-transfer-error")
    _phone(page)
    page.get_by_label("Their member number or e-mail address").fill(friend.email)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check before you send")).to_be_visible()
    expect(page.get_by_text("500 of 500 points")).to_be_visible()
    check_page(browser_page, "portal-transfer-check")
    _phone(page)
    page.get_by_role("button", name="Send 100 points").click()
    expect(page.get_by_text(f"You sent 100 points to {friend.email}")).to_be_visible()
    assert balance(friend.pk) == 100
    assert balance(member.pk) == earned - 150

    # when: they start a household and invite the friend
    page.get_by_role("link", name="Open your household").click()
    page.get_by_label("Household name").fill(f"Flat {tag}")
    page.get_by_role("button", name="Start the household").click()
    page.get_by_label("E-mail address to invite").fill(friend.email)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text(f"We e-mailed an invitation to {friend.email}")).to_be_visible()
    assert mail.outbox[-1].to == [friend.email]
    check_page(browser_page, "portal-household-head")
    _phone(page)
    page.get_by_role("button", name="Sign out", exact=True).click()

    # then: the friend signs in, accepts the invitation and pools 40 points
    _sign_in(browser_page, friend, "/portal/household/")
    expect(page.get_by_role("heading", name="Invitations for you")).to_be_visible()
    check_page(browser_page, "portal-household-invited")
    _phone(page)
    page.get_by_role("button", name=f"Join Flat {tag}").click()
    expect(page.get_by_text(f"You joined the household Flat {tag}")).to_be_visible()
    expect(page.get_by_text(member.member_number)).to_be_visible()
    page.get_by_label("Points to pool").fill("40")
    page.get_by_role("button", name="Pool points").click()
    expect(page.get_by_text("You pooled 40 points to the head of your household")).to_be_visible()
    check_page(browser_page, "portal-household-member")
    assert HouseholdMembership.objects.filter(member=friend).exists()
    assert balance(friend.pk) == 60
    assert balance(member.pk) == earned - 150 + 40
