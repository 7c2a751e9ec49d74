"""An analyst reads settlement in a browser: the live position and the closed
periods, a statement line by line, the transactions behind a line (a purchase at a
store, the member masked), and downloads the line's transactions as CSV. Every page
passes the accessibility check and is photographed at desktop and phone size."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from playwright.sync_api import expect

from coalition.ledger import services as ledger
from coalition.settlement.models import LineKind
from tenants.staff import services as staff
from tenants.stores.services import store_create
from tests.testkit import in_partner
from tests.testkit.api import enrol, gql, host_of, onboard, partner_key, publish_rules, receipt
from tests.testkit.browser import check_page
from tests.testkit.settlement import (
    close_now,
    cover_every_partner_with_terms,
    known_terms,
    statement_of,
)

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"
PURCHASE = """mutation($key: String!, $receipt: ReceiptInput!) {
  recordPurchase(idempotencyKey: $key, receipt: $receipt) {
    purchase { points } errors { field code message } } }"""


def test_an_analyst_reads_a_statement_drills_down_and_downloads_the_csv(
    browser_page: Any, live_server_url: str, tmp_path: Path
) -> None:
    # given a partner of its own with terms, a store, and purchases in a period
    # that the coalition closed
    partner = onboard(prefix="settle", currency="EUR")
    host = host_of(partner)
    known_terms(partner, issuance_price="1.0", reimbursement_rate="0.8", fee_percent="2")
    cover_every_partner_with_terms()
    close_now()
    publish_rules(partner)
    with in_partner(partner):
        store_create(code="MAIN", name="High Street shop")
    member = enrol("settle")
    sale = receipt(member.member_number, "EUR", [(2, 1000), (1, 500)], storeCode="MAIN")
    reply = gql(host, PURCHASE, {"key": uuid4().hex, "receipt": sale}, partner_key(partner))
    assert reply.body["data"]["recordPurchase"]["errors"] == [], reply.body
    ledger.earn(member_id=enrol("settle").pk, partner_id=partner.pk, points=120)
    ledger.burn(member_id=member.pk, partner_id=partner.pk, points=5)
    period = close_now()
    statement = statement_of(period, partner)
    issued = statement.lines.get(kind=LineKind.ISSUED)
    assert issued.transactions == 2
    # and, in the open period, 40 more points issued
    ledger.earn(member_id=member.pk, partner_id=partner.pk, points=40)
    analyst = staff.staff_member_create(
        partner_id=partner.pk,
        email=f"analyst-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="analyst",
    )
    page = browser_page.page

    # when the analyst signs in and opens Settlement
    page.goto(browser_page.url("/", host=host))
    page.get_by_label("E-mail address").fill(analyst.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Settlement").click()

    # then the open period's position and the closed period are there
    expect(page.get_by_role("heading", name="This period so far")).to_be_visible()
    expect(page.get_by_role("cell", name="Points issued to members")).to_be_visible()
    check_page(browser_page, "console-settlement")

    # when they open the period's statement
    page.get_by_role("link", name=f"Period {period.number}").click()
    expect(page.get_by_role("heading", name=f"Statement of period {period.number}")).to_be_visible()
    expect(page.get_by_role("link", name="Points members spent here")).to_be_visible()
    check_page(browser_page, "console-statement")

    # and drill down to the points issued
    page.get_by_role("link", name="Points issued to members").click()
    expect(page.get_by_role("heading", name="Points issued to members")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=sale["externalId"])
    expect(row.get_by_text("High Street shop")).to_be_visible()
    expect(row.get_by_text(member.email[:1] + "***@example.com")).to_be_visible()
    check_page(browser_page, "console-statement-line")

    # and download the line's transactions
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download these transactions as CSV").click()
    target = tmp_path / "line.csv"
    download_info.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))

    # then the CSV holds the line's two transactions, adding up to its points
    assert len(rows) == 2
    assert sum(int(r["points"]) for r in rows) == issued.points
    assert {r["store"] for r in rows} == {"High Street shop", ""}
    assert sale["externalId"] in {r["reference"] for r in rows}
