"""Settlement terms in a browser: a finance operator signs in, opens a partner's
terms, proposes new ones (a negative price first: the problem next to its
field), reads the preview of what the last closed period would have cost under
them, sets them, and sees them in force on the versions page and the partner's
page. Every page passes the accessibility check, fetches nothing from outside
the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.ledger import services as ledger
from coalition.settlement.models import SettlementTerms
from tenants.partners.models import Partner
from tests.testkit.browser import check_page
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.settlement import close_everything_before, close_now, known_terms, new_member
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.slow


def test_finance_sets_a_partners_terms_after_the_preview(
    browser_page: Any, partner_a: Partner
) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    # given a partner's terms and a closed period in which it issued 1000 points
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8")
    close_everything_before()
    ledger.earn(member_id=new_member("terms-journey"), partner_id=partner_a.pk, points=1000)
    close_now()
    finance = operator("finance")
    page = browser_page.page

    # when finance signs in on the partner's terms page
    page.goto(browser_page.url(f"/operator/partners/{partner_a.slug}/terms/"))
    page.get_by_label("E-mail address").fill(finance.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(code_for(finance, step_ahead=1))
    page.get_by_role("button", name="Sign in").click()
    expect(
        page.get_by_role("heading", name=f"Settlement terms of {partner_a.name}")
    ).to_be_visible()
    check_page(browser_page, "operator-terms")

    # and proposes terms with a negative price: the problem is next to its field
    page.get_by_role("link", name="Set new terms").click()
    expect(
        page.get_by_role("heading", name=f"New settlement terms for {partner_a.name}")
    ).to_be_visible()
    page.get_by_label("Issuance price per point").fill("-1.25")
    page.get_by_label("Reimbursement rate per point").fill("0.75")
    page.get_by_label("Fee (% of the issued amount)").fill("2")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "operator-terms-new-error")

    # then corrects it and reads the preview against the last closed period
    page.get_by_label("Issuance price per point").fill("1.25")
    page.get_by_role("button", name="Preview").click()
    expect(
        page.get_by_role("heading", name=f"Preview the new terms for {partner_a.name}")
    ).to_be_visible()
    expect(page.locator("#net-now")).to_have_text("10.00 EUR")
    expect(page.locator("#net-proposed")).to_have_text("12.75 EUR")
    check_page(browser_page, "operator-terms-preview")
    assert not SettlementTerms.objects.filter(partner=partner_a, issuance_price=Decimal("1.25"))

    # and sets them: they are in force, set by finance, on the versions and partner pages
    page.get_by_role("button", name="Set these terms").click()
    expect(page.get_by_text(f"New terms for {partner_a.name} take effect on")).to_be_visible()
    expect(page.get_by_role("cell", name=finance.email)).to_be_visible()
    check_page(browser_page, "operator-terms-set")
    assert (
        SettlementTerms.objects.filter(partner=partner_a, issuance_price=Decimal("1.25")).count()
        == 1
    )
    assert (
        AuditEntry.objects.filter(action="settlement.terms_set", actor_id=finance.pk).count() == 1
    )
    page.get_by_role("link", name=f"Back to {partner_a.name}").click()
    expect(page.get_by_text("In force since")).to_be_visible()
    check_page(browser_page, "operator-partner-terms")
