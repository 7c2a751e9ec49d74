"""Coalition goodwill in a browser, as two operators (four eyes): a support
operator opens a member's page and proposes 5,000 points of goodwill (the reason
left out first); above the threshold the proposal waits on the goodwill queue,
where its proposer cannot decide it. An admin signs in with a two-step code,
approves it from the queue, and the member's page shows the 5,000 points as
coalition goodwill. Every page passes the accessibility check, fetches nothing
from outside the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.goodwill.models import GoodwillProposal, GoodwillStatus
from coalition.ledger import selectors as ledger_selectors
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.browser import check_page
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.slow


def test_support_proposes_goodwill_and_an_admin_approves_it(
    browser_page: Any, partner_a: Partner
) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    member = funded_member(partner_a, 120, prefix="journey-goodwill")
    number = member.member_number
    agent, admin = operator("support"), operator("admin")
    page = browser_page.page

    # when support signs in and opens the member's page
    page.goto(browser_page.url(f"/operator/members/{number}/"))
    page.get_by_label("E-mail address").fill(agent.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Member {number}")).to_be_visible()

    # and proposes 5,000 points of goodwill, the reason left out first
    page.get_by_role("link", name="Give points (coalition goodwill)").click()
    expect(page.get_by_role("heading", name=f"Give points to member {number}")).to_be_visible()
    page.get_by_label("Points").fill("5000")
    page.get_by_role("button", name="Give points").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "operator-goodwill-propose-error")
    page.get_by_label("Reason").fill("Parcel lost by the courier, order 4411")
    page.get_by_role("button", name="Give points").click()

    # then it waits for another operator, and nothing is given yet
    expect(page.get_by_text("waits for another operator's approval")).to_be_visible()
    assert ledger_selectors.balance(member.pk) == 120
    page.get_by_role("link", name="Goodwill", exact=True).click()
    expect(page.get_by_role("heading", name="Coalition goodwill")).to_be_visible()
    expect(page.get_by_text("Your proposal: another operator decides it")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    check_page(browser_page, "operator-goodwill-queue-proposer")
    page.get_by_role("button", name="Sign out").click()

    # when an admin signs in with a two-step code and opens the queue
    page.goto(browser_page.url("/operator/members/goodwill/"))
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your authenticator app").fill(code_for(admin, step_ahead=1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Coalition goodwill")).to_be_visible()
    expect(page.get_by_role("cell", name="Parcel lost by the courier, order 4411")).to_be_visible()
    check_page(browser_page, "operator-goodwill-queue")

    # and approves it
    page.get_by_role("button", name=f"Approve 5,000 points for member {number}").click()

    # then the points are given, once, and the queue lists the decision
    expect(page.get_by_text(f"5,000 points were given to member {number}.")).to_be_visible()
    expect(page.get_by_text("Nothing waits for approval")).to_be_visible()
    check_page(browser_page, "operator-goodwill-queue-decided")
    proposal = GoodwillProposal.objects.get(member=member)
    assert proposal.status == GoodwillStatus.POSTED
    assert proposal.decided_by_id == admin.pk
    assert ledger_selectors.balance(member.pk) == 5_120

    # and the member's page shows them as coalition goodwill, and who approved them
    page.get_by_role("link", name=number).first.click()
    expect(page.get_by_role("heading", name=f"Member {number}")).to_be_visible()
    expect(page.get_by_text("5,120", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="Coalition goodwill").first).to_be_visible()
    expect(page.get_by_text("Coalition goodwill approved")).to_be_visible()
    check_page(browser_page, "operator-goodwill-member")
