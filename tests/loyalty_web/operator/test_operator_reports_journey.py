"""Finance reports in a browser: a finance operator signs in (password, then the
code), opens the reports from the navigation, reads the liability per currency
and per issuer, downloads its CSV, then reads the breakage per month with the
estimate behind the deferred revenue and downloads that CSV, and looks at issued
against redeemed. Every page passes the accessibility check, fetches nothing from
outside the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from coalition.ledger import services as ledger
from coalition.settlement.finance import finance_report
from loyalty_web.design.formatting import format_money, format_points
from loyalty_web.operator.reports import percent
from tests.testkit.browser import check_page
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.settlement import (
    AFTER_EXPIRY,
    EARNED_AT,
    EXPIRES_AT,
    known_terms,
    new_member,
    onboard_partner,
)
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.slow


def test_finance_reads_the_liability_and_breakage_reports_and_downloads_their_csv(
    browser_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    # given points at a euro issuer: earned, spent, held and expired
    euro = onboard_partner("journey-fin", "EUR")
    known_terms(euro, issuance_price="1.5", reimbursement_rate="1")
    alice, bob = new_member("journey-fin"), new_member("journey-fin")
    ledger.earn(member_id=alice, partner_id=euro.pk, points=12_000)
    ledger.burn(member_id=alice, partner_id=euro.pk, points=2_000)
    ledger.hold_authorize(member_id=alice, partner_id=euro.pk, points=500)
    ledger.earn(member_id=bob, partner_id=euro.pk, points=800, expires_at=EXPIRES_AT,
                now=EARNED_AT)  # fmt: skip
    ledger.lots_expire(now=AFTER_EXPIRY)
    finance = operator("finance")
    page = browser_page.page

    # when finance signs in with password and code, and opens the reports
    page.goto(browser_page.url("/operator/reports/"))
    page.get_by_label("E-mail address").fill(finance.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your authenticator app").fill(code_for(finance, step_ahead=1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Finance reports")).to_be_visible()
    expect(page.get_by_role("link", name="Reports")).to_have_attribute("aria-current", "page")

    # then the liability shows the euro totals and the issuer's line, as the report has them
    report = finance_report()
    eur = next(c for c in report.currencies if c.currency == "EUR")
    totals = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="EUR"))
    expect(totals).to_contain_text(format_money(eur.value, "EUR"))
    expect(totals).to_contain_text(format_money(eur.deferred_revenue, "EUR"))
    line = next(x for x in report.lines if x.issuer_id == euro.pk)
    issuer = page.get_by_role("row").filter(has=page.get_by_role("link", name=euro.name))
    expect(issuer).to_contain_text(format_points(line.outstanding_points))
    expect(issuer).to_contain_text(format_money(line.value or 0, "EUR"))
    expect(issuer).to_contain_text(format_points(line.held_points))
    check_page(browser_page, "operator-report-liability")

    # and its CSV holds the same figures
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV").click()
    target = tmp_path / "liability.csv"
    download_info.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    mine = next(r for r in rows if r["issuer"] == euro.slug)
    assert (mine["outstanding_points"], mine["value_minor"], mine["held_points"]) == (
        str(line.outstanding_points), str(line.value), str(line.held_points),
    )  # fmt: skip
    assert next(r for r in rows if r["level"] == "currency" and r["currency"] == "EUR")[
        "deferred_revenue_minor"
    ] == str(eur.deferred_revenue)

    # when finance opens the breakage report
    page.get_by_role("link", name="Breakage", exact=True).click()
    expect(page.get_by_role("heading", name="Breakage", exact=True)).to_be_visible()
    # then this month's row shows the expired points and the month's rate,
    # and the page says which rate the deferred revenue uses
    month = report.months[-1]
    this_month = page.get_by_role("row").filter(has_text=month.month.strftime("%B %Y"))
    expect(this_month).to_contain_text(format_points(month.expired))
    expect(this_month).to_contain_text(percent(month.breakage_rate))
    expect(
        page.get_by_text("The deferred revenue is the value of outstanding points")
    ).to_contain_text(percent(report.expected_breakage_rate))
    expect(page.get_by_role("img", name="Breakage rate per month")).to_be_visible()
    check_page(browser_page, "operator-report-breakage")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV").click()
    target = tmp_path / "breakage.csv"
    download_info.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 12
    assert rows[-1]["expired_points"] == str(month.expired)
    assert int(rows[-1]["expired_points"]) >= 800

    # and issued against redeemed per month
    page.get_by_role("link", name="Issued and redeemed").click()
    expect(page.get_by_role("heading", name="Points issued and redeemed per month")).to_be_visible()
    expect(page.get_by_role("img", name="Points issued and redeemed per month")).to_be_visible()
    check_page(browser_page, "operator-report-issued-redeemed")
