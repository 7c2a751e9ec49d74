"""Settlement in a browser: a finance operator signs in (two-step), opens the
settlement periods, sees the open period is due with its figures so far,
closes it behind the check page, reads the period's statements and netting,
opens a statement line by line, and downloads the netted transfers as CSV.
Every page passes the accessibility check, fetches nothing from outside the
machine, and is photographed at desktop and phone size."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.settlement.models import PeriodStatus, SettlementPeriod
from coalition.settlement.periods import period_open
from tests.testkit.browser import check_page
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.settlement import (
    close_everything_before,
    known_terms,
    new_member,
    onboard_partner,
)
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.slow


def test_finance_closes_a_due_period_and_reads_statements_and_netting(
    browser_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    # given a due period in which one partner's points were spent at another
    issuer, redeemer = onboard_partner("issuer", "EUR"), onboard_partner("redeemer", "EUR")
    known_terms(issuer, issuance_price="1.0", reimbursement_rate="0.5", fee_percent="2")
    known_terms(redeemer, issuance_price="1.0", reimbursement_rate="0.5")
    close_everything_before()
    member = new_member("journey-settle")
    ledger.earn(member_id=member, partner_id=issuer.pk, points=1000)
    ledger.burn(member_id=member, partner_id=redeemer.pk, points=600)
    due = period_open()
    SettlementPeriod.objects.filter(pk=due.pk).update(opened_at=timezone.now() - timedelta(days=70))
    finance = operator("finance")
    page = browser_page.page

    # when finance signs in with its code and opens settlement
    page.goto(browser_page.url("/operator/settlement/"))
    page.get_by_label("E-mail address").fill(finance.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(code_for(finance, step_ahead=1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Settlement periods")).to_be_visible()
    expect(page.get_by_text("due now").first).to_be_visible()
    check_page(browser_page, "operator-settlement-periods")

    # and closes the due period behind the check page
    page.get_by_role("link", name=f"Close period {due.number}").click()
    expect(page.get_by_role("heading", name=f"Close period {due.number}?")).to_be_visible()
    expect(page.get_by_role("heading", name="What will close")).to_be_visible()
    check_page(browser_page, "operator-settlement-close")
    page.get_by_role("button", name=f"Close period {due.number}").click()

    # then the period's page lists both statements and the netting
    expect(page.get_by_role("heading", name=f"Settlement period {due.number}")).to_be_visible()
    expect(page.get_by_text(f"Period {due.number} is closed")).to_be_visible()
    statements = page.get_by_role("table", name="Statements per partner and charity")
    expect(statements.get_by_role("link", name=issuer.name)).to_be_visible()
    expect(statements.get_by_role("link", name=redeemer.name)).to_be_visible()
    transfers = page.get_by_role("table", name="Netted transfers, largest first")
    expect(transfers.get_by_role("row").filter(has_text=issuer.name)).to_contain_text("3.00 EUR")
    check_page(browser_page, "operator-settlement-period")
    due.refresh_from_db()
    assert due.status == PeriodStatus.CLOSED

    # and the netted transfers download as CSV
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the netted transfers as CSV").click()
    target = tmp_path / "transfers.csv"
    download_info.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(r["payer"], r["payee"], r["amount"]) for r in rows] == [
        (issuer.slug, redeemer.slug, "3.00")
    ]

    # and the issuer's statement reads line by line
    statements.get_by_role("link", name=issuer.name).click()
    expect(
        page.get_by_role("heading", name=f"{issuer.name}: statement of period {due.number}")
    ).to_be_visible()
    expect(page.get_by_role("cell", name="Percentage fee")).to_be_visible()
    check_page(browser_page, "operator-settlement-statement")
