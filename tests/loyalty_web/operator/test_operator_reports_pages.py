"""What the operator's finance report pages show: the domain's own figures
(``finance_report``), never figures of their own. The liability per currency and
per issuer with pending holds and the deferred revenue, breakage per month with
the estimate the deferred revenue uses, issued against redeemed per month; each
table's CSV carries the same figures unformatted; the query count does not grow
with the issuers; the pages speak Spanish."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.ledger import services as ledger
from coalition.settlement.finance import finance_report
from loyalty_web.design.formatting import format_money, format_points
from loyalty_web.operator.reports import percent
from tenants.partners.models import Partner
from tests.testkit.operator import login_as
from tests.testkit.settlement import (
    AFTER_EXPIRY,
    EARNED_AT,
    EXPIRES_AT,
    known_terms,
    new_member,
    onboard_partner,
)

pytestmark = pytest.mark.django_db


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def _csv(response: object) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(body)))


def _activity() -> tuple[Partner, Partner]:
    """A euro issuer at 1.25 a point and a pound issuer without terms; earns, a
    spend, a pending hold and an expiry this month."""
    euro = onboard_partner("rep-eur", "EUR")
    known_terms(euro, issuance_price="1.25", reimbursement_rate="1")
    pound = onboard_partner("rep-gbp", "GBP")
    alice, bob = new_member("rep"), new_member("rep")
    ledger.earn(member_id=alice, partner_id=euro.pk, points=9_001)
    ledger.earn(member_id=bob, partner_id=pound.pk, points=777)
    ledger.burn(member_id=alice, partner_id=euro.pk, points=1_000)
    ledger.hold_authorize(member_id=alice, partner_id=pound.pk, points=333)
    ledger.earn(member_id=bob, partner_id=euro.pk, points=450, expires_at=EXPIRES_AT,
                now=EARNED_AT)  # fmt: skip
    ledger.lots_expire(now=AFTER_EXPIRY)
    return euro, pound


def test_the_liability_page_shows_the_reports_figures_per_currency_and_issuer() -> None:
    # given activity at two issuers, and a finance operator
    euro, pound = _activity()
    client, _ = login_as("finance", euro)
    # when they open the liability report
    html = _html(client.get("/operator/reports/"))
    report = finance_report()
    # then each currency's totals are the report's, formatted
    eur = next(c for c in report.currencies if c.currency == "EUR")
    for figure in (format_points(eur.outstanding_points), format_money(eur.value, "EUR"),
                   format_money(eur.deferred_revenue, "EUR"), format_points(eur.held_points),
                   percent(report.expected_breakage_rate)):  # fmt: skip
        assert figure in html, figure
    # and each issuer has its line: the euro one valued, the pound one without terms
    line = next(x for x in report.lines if x.issuer_id == euro.pk)
    assert line.value == int((Decimal(line.outstanding_points) * Decimal("1.25")).quantize(1))
    assert f'href="/operator/partners/{euro.slug}/">{euro.name}</a>' in html
    assert format_money(line.value, "EUR") in html
    assert f'href="/operator/partners/{pound.slug}/">{pound.name}</a>' in html
    assert "no terms" in html
    assert format_points(report.unvalued_points) in html
    # the pending hold took the euro issuer's points, and shows on its line
    assert line.held_points >= 333


def test_the_liability_csv_carries_the_reports_figures() -> None:
    euro, _pound = _activity()
    client, _ = login_as("read_only", euro)
    response = client.get("/operator/reports/", {"format": "csv"})
    rows = _csv(response)
    report = finance_report()
    assert rows[0] == ["level", "issuer", "name", "currency", "outstanding_points",
                       "held_points", "value_minor", "deferred_revenue_minor",
                       "expected_breakage_rate"]  # fmt: skip
    currencies = [row for row in rows[1:] if row[0] == "currency"]
    assert currencies == [
        ["currency", c.currency, "", c.currency, str(c.outstanding_points), str(c.held_points),
         str(c.value), str(c.deferred_revenue), str(report.expected_breakage_rate)]
        for c in report.currencies
    ]  # fmt: skip
    mine = next(row for row in rows if row[1] == euro.slug)
    line = next(x for x in report.lines if x.issuer_id == euro.pk)
    assert mine == ["issuer", euro.slug, euro.name, "EUR", str(line.outstanding_points),
                    str(line.held_points), str(line.value), "", ""]  # fmt: skip
    assert response["Content-Disposition"].startswith('attachment; filename="liability-')


def test_the_breakage_page_shows_each_month_and_the_estimate_behind_deferred_revenue() -> None:
    euro, _pound = _activity()
    client, _ = login_as("admin", euro)
    html = _html(client.get("/operator/reports/breakage/"))
    report = finance_report()
    this_month = report.months[-1]
    # then this month's row has its expired points (our 450 among them) and rate
    assert this_month.expired >= 450
    assert format_points(this_month.expired) in html
    assert percent(this_month.breakage_rate) in html
    # and the page says how the deferred revenue is estimated, with the rate
    assert "The deferred revenue is the value of outstanding points times (1 \N{MINUS SIGN}" in (
        html
    )
    assert percent(report.expected_breakage_rate) in html
    # a chart with a dot per month
    assert html.count('<circle class="chart-dot"') == 12
    # and the CSV has the same twelve months
    rows = _csv(client.get("/operator/reports/breakage/", {"format": "csv"}))
    assert rows[0] == ["month", "expired_points", "redeemed_points", "breakage_rate"]
    assert rows[1:] == [
        [m.month.isoformat(), str(m.expired), str(m.redeemed), str(m.breakage_rate)]
        for m in report.months
    ]


def test_the_issued_and_redeemed_page_shows_each_month_net_of_reversals() -> None:
    euro, _pound = _activity()
    member = new_member("rep")
    earned = ledger.earn(member_id=member, partner_id=euro.pk, points=500)
    ledger.reverse(transaction_id=earned.transaction_id, points=120)
    client, _ = login_as("finance", euro)
    html = _html(client.get("/operator/reports/issued-redeemed/"))
    report = finance_report()
    now = report.months[-1]
    assert now.issued_reversed >= 120
    for figure in (now.issued, now.issued_reversed, now.redeemed, now.expired):
        assert format_points(figure) in html
    # the chart draws the net figures: two bars a month
    assert html.count('<rect class="bar-a"') == 12
    assert html.count('<rect class="bar-b"') == 12
    assert f"{format_points(now.issued - now.issued_reversed)}</title>" in html
    rows = _csv(client.get("/operator/reports/issued-redeemed/", {"format": "csv"}))
    assert rows[-1] == [
        now.month.isoformat(), str(now.issued), str(now.issued_reversed),
        str(now.issued - now.issued_reversed), str(now.redeemed), str(now.redeem_reversed),
        str(now.redeemed - now.redeem_reversed), str(now.expired),
    ]  # fmt: skip
    assert len(rows) == 13


def _issuer_with_points(prefix: str) -> None:
    issuer = onboard_partner(prefix, "USD")
    known_terms(issuer, issuance_price="0.01", reimbursement_rate="0.01")
    member = new_member("rep")
    ledger.earn(member_id=member, partner_id=issuer.pk, points=25)
    ledger.hold_authorize(member_id=member, partner_id=issuer.pk, points=5)


def test_the_liability_page_costs_as_many_queries_with_more_issuers(partner_a: Partner) -> None:
    # given one issuer with points, a pending hold and terms
    _issuer_with_points("rep-one")
    client, _ = login_as("finance", partner_a)
    client.get("/operator/reports/")  # warm: the session
    with CaptureQueriesContext(connection) as few:
        assert client.get("/operator/reports/").status_code == 200
    # when three more issuers have the same
    for index in range(3):
        _issuer_with_points(f"rep-more{index}")
    with CaptureQueriesContext(connection) as more:
        response = client.get("/operator/reports/")
    # then the page lists them for the same number of queries
    assert response.status_code == 200
    assert _html(response).count('href="/operator/partners/rep-more') == 3
    assert len(more) == len(few)


def test_the_reports_speak_spanish(partner_a: Partner) -> None:
    client, _ = login_as("read_only", partner_a)
    html = _html(client.get("/operator/reports/breakage/", HTTP_ACCEPT_LANGUAGE="es"))
    assert "Informes financieros" in html
