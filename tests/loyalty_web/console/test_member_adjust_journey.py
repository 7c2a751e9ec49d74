"""A manager adjusts a member's points in a browser: a goodwill addition through the
check page, then a correction that asks for more than the member holds of the
partner's points (refused on the check page) and one that fits; then finds both in
the partner's adjustments list and downloads it as CSV. Every page passes the
accessibility check, fetches nothing from outside the machine, and is photographed
at desktop and phone size."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from playwright.sync_api import expect

from coalition.ledger import selectors as ledger_selectors
from tenants.staff import services as staff
from tests.testkit.api import funded_member, host_of, onboard
from tests.testkit.browser import check_page

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"


def test_a_manager_adds_goodwill_points_and_takes_some_back(
    browser_page: Any, live_server_url: str, tmp_path: Path
) -> None:
    # a partner of its own: its daily cap is not shared with other tests
    partner = onboard(prefix="adjust", currency="EUR")
    host = host_of(partner)
    manager = staff.staff_member_create(
        partner_id=partner.pk,
        email=f"manager-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="manager",
    )
    member = funded_member(partner, 120, prefix="adjust-journey")
    page = browser_page.page

    # given the manager signed in on the member's page
    page.goto(browser_page.url("/", host=host))
    page.get_by_label("E-mail address").fill(manager.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(browser_page.url(f"/members/{member.member_number}/", host=host))

    # when they add 30 goodwill points: the form, then the check page
    page.get_by_role("link", name="Adjust points").click()
    expect(
        page.get_by_role("heading", name=f"Adjust the points of member {member.member_number}")
    ).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "console-member-adjust-errors")
    page.get_by_label("Add points to the member").check()
    page.get_by_label("Points", exact=True).fill("30")
    page.get_by_label("Reason").fill("Parcel delivered late")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check before you confirm")).to_be_visible()
    expect(page.get_by_text("150 points")).to_be_visible()
    check_page(browser_page, "console-member-adjust-check")
    page.get_by_role("button", name="Add 30 points").click()

    # then the member page says so, and the activity names the adjustment
    expect(page.get_by_text("30 points added. The member now has 150 points.")).to_be_visible()
    expect(page.get_by_role("cell", name="Points added by the partner").first).to_be_visible()
    check_page(browser_page, "console-member-adjusted")

    # when they take back more than the member has, then a correction that fits
    page.get_by_role("link", name="Adjust points").click()
    page.get_by_label("Take points back").check()
    page.get_by_label("Points", exact=True).fill("500")
    page.get_by_label("Reason").fill("Points given twice")
    page.get_by_role("button", name="Continue").click()
    expect(
        page.get_by_text("The member holds only 150 points your business issued")
    ).to_be_visible()
    check_page(browser_page, "console-member-adjust-too-many")
    page.get_by_role("link", name="Change the adjustment").click()
    page.get_by_label("Take points back").check()
    page.get_by_label("Points", exact=True).fill("50")
    page.get_by_label("Reason").fill("Points given twice")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Take back 50 points").click()
    expect(page.get_by_text("50 points taken back. The member now has 100 points.")).to_be_visible()
    assert ledger_selectors.balance(member.pk) == 100

    # when they open the partner's adjustments from the navigation
    page.get_by_role("link", name="Adjustments", exact=True).click()
    expect(page.get_by_role("heading", name="Adjustments", exact=True)).to_be_visible()
    # then both adjustments are listed, newest first, with the reason and who made them
    rows = page.get_by_role("row").filter(has_text=member.member_number)
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Points given twice")
    expect(rows.first).to_contain_text("-50")
    expect(rows.nth(1)).to_contain_text("Parcel delivered late")
    expect(rows.nth(1)).to_contain_text(manager.user.email)
    check_page(browser_page, "console-adjustments")

    # and the CSV download holds the same two
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV").click()
    target = tmp_path / "adjustments.csv"
    download_info.value.save_as(target)
    listed = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(r["member_number"], r["kind"], r["points"], r["reason"]) for r in listed] == [
        (member.member_number, "taken_back", "-50", "Points given twice"),
        (member.member_number, "added", "30", "Parcel delivered late"),
    ]
