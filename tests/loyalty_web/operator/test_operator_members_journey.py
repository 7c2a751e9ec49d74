"""Member support in a browser: a support operator signs in, looks a member up by
e-mail (an empty search first), reads the member's page and history, blocks the
member with a reason (the reason left out first), sees what that stops, and
unblocks them; then opens the erasure check page. Every page passes the
accessibility check, fetches nothing from outside the machine, and is
photographed at desktop and phone size."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.ledger import services as ledger
from coalition.members.models import Member, MemberStatus
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.browser import check_page
from tests.testkit.operator import PASSWORD, operator

pytestmark = pytest.mark.slow


def _sign_in(browser_page: Any, user: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page.page
    page.goto(browser_page.url("/operator/members/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_support_looks_a_member_up_blocks_and_unblocks_them(
    browser_page: Any, partner_a: Partner, partner_b: Partner
) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    member = funded_member(partner_a, 120, prefix="journey-support")
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=30)
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=50)
    agent = operator("support")
    page = browser_page.page

    # when support signs in, they land on the member look-up
    _sign_in(browser_page, agent)
    expect(page.get_by_role("heading", name="Find a member")).to_be_visible()
    page.get_by_role("button", name="Find member").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "operator-members-search-error")

    # and finds the member by e-mail
    page.get_by_label("E-mail, member number or card number").fill(member.email)
    page.get_by_role("button", name="Find member").click()
    expect(page.get_by_role("heading", name=f"Member {member.member_number}")).to_be_visible()
    expect(page.get_by_text(member.email)).to_be_visible()
    check_page(browser_page, "operator-member")

    # the history lists the movements at both partners
    page.get_by_role("link", name="Full history at every partner").click()
    expect(
        page.get_by_role("heading", name=f"History of member {member.member_number}")
    ).to_be_visible()
    expect(page.get_by_role("cell", name=partner_b.name).first).to_be_visible()
    check_page(browser_page, "operator-member-history")
    page.get_by_role("link", name="Back to the member").click()

    # when support blocks the member, the reason left out first
    page.get_by_role("link", name="Block", exact=True).click()
    expect(
        page.get_by_role("heading", name=f"Block member {member.member_number}?")
    ).to_be_visible()
    page.get_by_role("button", name="Block", exact=True).click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "operator-member-block-error")
    page.get_by_label("Reason").fill("card reported stolen by the member")
    page.get_by_role("button", name="Block", exact=True).click()

    # then the page says the member is blocked, what that stops, and why
    expect(page.get_by_text(f"Member {member.member_number} is blocked.")).to_be_visible()
    expect(page.get_by_text("This member is blocked")).to_be_visible()
    expect(page.get_by_role("cell", name="card reported stolen by the member")).to_be_visible()
    check_page(browser_page, "operator-member-blocked")
    assert Member.objects.get(pk=member.pk).status == MemberStatus.BLOCKED

    # when unblocked with a reason, then active again
    page.get_by_role("link", name="Unblock", exact=True).click()
    page.get_by_label("Reason").fill("card found")
    page.get_by_role("button", name="Unblock", exact=True).click()
    expect(page.get_by_text(f"Member {member.member_number} is active again.")).to_be_visible()
    assert Member.objects.get(pk=member.pk).status == MemberStatus.ACTIVE

    # and the erasure check page says what goes and what stays
    page.get_by_role("link", name="Erase personal data").click()
    expect(page.get_by_role("heading", name="What is kept")).to_be_visible()
    check_page(browser_page, "operator-member-erase")
