"""An operator admin signs in with a password and a two-step code, onboards a
partner through the wizard (an empty form first: the problems next to their
fields), sets its settlement terms after their preview, invites its first
owner, makes its Stripe Connect link through the local Stripe fake, sees the
new partner's host answer, then suspends and reactivates it with a reason each
time. Every page passes the accessibility check, fetches nothing from outside
the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from django.core import mail

from coalition.settlement.models import SettlementTerms
from tenants.partners.models import Partner, PartnerStatusChange
from tests.testkit.browser import check_page
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.settlement import running_stripe_fake
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.slow


def test_an_admin_onboards_a_partner_and_suspends_and_reactivates_it(
    browser_page: Any,
) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    admin = operator("admin")
    slug = f"journey-{uuid4().hex[:6]}"
    page = browser_page.page

    # when the admin opens the operator console: the log-in, then the code
    page.goto(browser_page.url("/operator/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_page(browser_page, "operator-login")
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    # (the set-up used the current code, and a code works once: the app's next one)
    page.get_by_label("Code from your authenticator app").fill(code_for(admin, step_ahead=1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Partners")).to_be_visible()
    check_page(browser_page, "operator-partners")

    # and sends the onboarding form empty: the problems are listed next to their fields
    page.get_by_role("link", name="Onboard a partner").click()
    page.get_by_role("button", name="Create the partner").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "operator-onboard-error")

    # then fills it in and creates the partner
    page.get_by_label("Partner name").fill("Journey Books")
    page.get_by_label("Short name (slug)").fill(slug)
    page.get_by_label("Currency").fill("EUR")
    page.get_by_label("Time zone").select_option("Europe/Madrid")
    page.get_by_label("Contact e-mail address").fill("books@example.com")
    page.get_by_role("button", name="Create the partner").click()

    # and gives it its settlement terms, after their preview
    expect(
        page.get_by_role("heading", name="New settlement terms for Journey Books")
    ).to_be_visible()
    check_page(browser_page, "operator-onboard-terms")
    page.get_by_label("Issuance price per point").fill("1.0")
    page.get_by_label("Reimbursement rate per point").fill("0.8")
    page.get_by_role("button", name="Preview").click()
    expect(
        page.get_by_role("heading", name="Preview the new terms for Journey Books")
    ).to_be_visible()
    page.get_by_role("button", name="Set these terms").click()
    expect(
        page.get_by_role("heading", name="Invite the first owner of Journey Books")
    ).to_be_visible()
    assert SettlementTerms.objects.filter(partner__slug=slug).count() == 1
    check_page(browser_page, "operator-onboard-owner")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("Invitation sent to books@example.com")).to_be_visible()
    assert f"{slug}.localhost" in mail.outbox[-1].body

    # and makes the Stripe Connect onboarding link
    with running_stripe_fake() as stripe:
        page.get_by_role("button", name="Make the Stripe onboarding link").click()
        expect(page.get_by_text("Send this link to the partner")).to_be_visible()
        assert len(stripe.state.created("accounts")) == 1
    check_page(browser_page, "operator-onboard-payouts")
    page.get_by_role("link", name="Finish").click()
    expect(page.get_by_role("heading", name="Journey Books")).to_be_visible()
    check_page(browser_page, "operator-partner")

    # the new partner's host answers with its own console, asking its staff to sign in
    page.goto(browser_page.url("/", host=f"{slug}.localhost"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Staff of Journey Books sign in here.")).to_be_visible()
    page.goto(browser_page.url(f"/operator/partners/{slug}/"))

    # when the admin activates, suspends and reactivates it, each with a reason
    for verb, reason, status in (
        ("Activate", "contract signed", "active"),
        ("Suspend", "card fraud under review", "suspended"),
        ("Activate", "review closed", "active"),
    ):
        page.get_by_role("link", name=verb, exact=True).click()
        if status == "suspended":
            check_page(browser_page, "operator-partner-suspend")
        page.get_by_label("Reason").fill(reason)
        page.get_by_role("button", name=verb, exact=True).click()
        expect(page.get_by_role("heading", name="Journey Books")).to_be_visible()
        assert Partner.objects.get(slug=slug).status == status
    # then the status history shows every move with its reason
    expect(page.get_by_role("cell", name="card fraud under review")).to_be_visible()
    check_page(browser_page, "operator-partner-history")
    reasons = list(
        PartnerStatusChange.objects.filter(partner__slug=slug)
        .order_by("pk")
        .values_list("reason", flat=True)
    )
    assert reasons == ["onboarded", "contract signed", "card fraud under review", "review closed"]
