"""The settlement pages show what the books say: the live position and liability,
a statement's lines in the partner's currency with the reader's number format, each
line's transactions page by page, and CSV downloads that match the ledger."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from coalition.ledger import services as ledger
from coalition.ledger.models import Entry
from coalition.settlement.models import LineKind, SettlementPeriod, StatementLine
from loyalty_web.design.formatting import format_money, format_points
from tenants.partners.models import Partner
from tests.testkit.console import login_as
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    statement_of,
)

pytestmark = pytest.mark.django_db


def _period(partner: Partner) -> SettlementPeriod:
    """A closed period at ``partner``: 7 earns of 1,500 points, 2 burns, a capture, a
    return of this period's earn; terms of 1.25 minor units a point issued."""
    known_terms(partner, issuance_price="1.25", reimbursement_rate="0.8", fee_percent="2")
    close_everything_before()
    members = [new_member("pages") for _ in range(3)]
    earns = [
        ledger.earn(member_id=members[i % 3], partner_id=partner.pk, points=1500) for i in range(7)
    ]
    ledger.burn(member_id=members[0], partner_id=partner.pk, points=400)
    ledger.burn(member_id=members[1], partner_id=partner.pk, points=100)
    hold = ledger.hold_authorize(member_id=members[2], partner_id=partner.pk, points=300)
    ledger.hold_capture(hold_id=int(hold.result["hold"]), points=250)
    ledger.reverse(transaction_id=earns[0].transaction_id, points=200)
    return close_now()


def _csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_statement_lists_every_line_in_the_partners_currency(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a closed period at alpha, read by its analyst in Spanish
    client, _user = login_as(partner_a, "analyst", partner_b)
    period = _period(partner_a)
    statement = statement_of(period, partner_a)
    # when the statement is opened
    response = client.get(f"/settlement/periods/{period.number}/", HTTP_ACCEPT_LANGUAGE="es")
    page = response.content.decode()
    # then every line is there with its money in Spanish number format and a link
    # to its transactions (fee lines have none)
    assert response.status_code == 200
    issued = statement.lines.get(kind=LineKind.ISSUED)
    assert issued.points == 10500
    assert issued.amount == 13125
    with translation.override("es"):
        assert format_points(10500) in page  # Spanish groups thousands
        assert format_money(13125, "EUR") == "131,25 EUR"
    assert "131,25 EUR" in page
    assert "0,0125 EUR" in page  # 1.25 minor units a point
    for line in statement.lines.all():
        link = f"/settlement/periods/{period.number}/lines/{line.pk}/"
        assert (link in page) == (line.kind != LineKind.FEE_PERCENT), line.kind
    assert f"{statement.net_amount / 100:.2f}".replace(".", ",") in page


def test_the_statement_csv_matches_the_ledger(partner_a: Partner, partner_b: Partner) -> None:
    # given a closed period at alpha
    client, _user = login_as(partner_a, "owner", partner_b)
    period = _period(partner_a)
    statement = statement_of(period, partner_a)
    # when its statement is downloaded
    response = client.get(f"/settlement/periods/{period.number}/", {"format": "csv"})
    rows = _csv(response)
    # then it is a CSV attachment with one row per line, adding up to the net
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="statement-{period.number}.csv"' in response["Content-Disposition"]
    assert list(rows[0]) == ["period", "line", "kind", "description", "transactions",
                             "points", "rate_per_point", "amount", "currency"]  # fmt: skip
    assert len(rows) == statement.lines.count()
    assert sum(Decimal(row["amount"]) for row in rows) * 100 == statement.net_amount
    # and the points issued are the ledger's: the earn entries of alpha's issuance
    # account in the period
    issued = next(row for row in rows if row["kind"] == LineKind.ISSUED)
    in_ledger = Entry.objects.filter(
        account__partner=partner_a, account__kind="issuance", transaction__kind="earn",
        transaction_id__gt=period.start_watermark, transaction_id__lte=period.end_watermark,
    )  # fmt: skip
    assert int(issued["points"]) == -in_ledger.aggregate(total=Sum("amount"))["total"]
    assert int(issued["transactions"]) == in_ledger.count()
    assert issued["rate_per_point"] == "0.0125"
    redeemed = {row["description"]: row for row in rows if row["kind"] == LineKind.REDEEMED}
    assert sorted(int(row["points"]) for row in redeemed.values()) == [250, 500]


def test_a_lines_transactions_come_page_by_page_and_in_the_csv(
    partner_a: Partner, partner_b: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a closed period's issued line of 7 earns, shown 3 to a page
    from loyalty_web.console import settlement

    monkeypatch.setattr(settlement, "TRANSACTIONS_ON_PAGE", 3)
    client, _user = login_as(partner_a, "manager", partner_b)
    period = _period(partner_a)
    line: StatementLine = statement_of(period, partner_a).lines.get(kind=LineKind.ISSUED)
    url = f"/settlement/periods/{period.number}/lines/{line.pk}/"
    # when the manager follows the pages
    seen: list[str] = []
    query: dict[str, str] = {}
    for _ in range(5):
        response = client.get(url, query)
        assert response.status_code == 200
        seen.extend(response.context["page"].items[i]["row"].member
                    for i in range(len(response.context["page"].items)))  # fmt: skip
        next_query = response.context["next_query"]
        if not next_query:
            break
        query = dict(pair.split("=") for pair in next_query.split("&"))
    # then every transaction shows once, with the member masked
    assert len(seen) == 7
    assert all("***@example.com" in member for member in seen)
    # and the CSV has every transaction of the line, as the ledger has them
    rows = _csv(client.get(url, {"format": "csv"}))
    assert list(rows[0]) == ["transaction", "when", "kind", "member", "points", "reference",
                             "store"]  # fmt: skip
    entries = dict(
        Entry.objects.filter(
            account__partner=partner_a, account__kind="issuance", transaction__kind="earn",
            transaction_id__gt=period.start_watermark, transaction_id__lte=period.end_watermark,
        ).values_list("transaction_id", "amount")
    )  # fmt: skip
    assert {int(row["transaction"]): -int(row["points"]) for row in rows} == entries
    assert sum(int(row["points"]) for row in rows) == line.points


def test_the_overview_shows_the_live_position_liability_and_closed_statements(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a closed period, then 800 more points issued in the open one
    client, _user = login_as(partner_a, "owner", partner_b)
    period = _period(partner_a)
    ledger.earn(member_id=new_member("live"), partner_id=partner_a.pk, points=800)
    # when the owner opens the settlement overview
    response = client.get("/settlement/")
    page = response.content.decode()
    # then the open period shows the 800 points issued (10.00 EUR at 1.25 a point)
    assert response.status_code == 200
    assert "Points issued to members" in page
    assert "800" in page
    assert "10.00 EUR" in page
    # and the closed period links to its statement with its payment status
    assert f"/settlement/periods/{period.number}/" in page
    assert "To be paid" in page
    # and the liability counts the points members still hold
    assert response.context["liability"].outstanding_points >= 800
    # and a chart draws the closed period's amount, with the same figure in words
    statement = statement_of(period, partner_a)
    assert '<svg class="chart"' in page
    assert f"{period.number}: {format_money(statement.net_amount, 'EUR')}" in page


def test_a_lines_page_costs_the_same_statements_whatever_its_length(
    partner_a: Partner, partner_b: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the issued line of 7 earns, read 2 to a page and then all on one page
    from loyalty_web.console import settlement

    client, _user = login_as(partner_a, "owner", partner_b)
    period = _period(partner_a)
    line = statement_of(period, partner_a).lines.get(kind=LineKind.ISSUED)
    url = f"/settlement/periods/{period.number}/lines/{line.pk}/"
    counts = []
    for size in (2, 50):
        monkeypatch.setattr(settlement, "TRANSACTIONS_ON_PAGE", size)
        client.get(url)  # the session and the staff role are read once warm
        # when the page is fetched
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    # then the members and stores of a page are read in one statement each, not per row
    assert counts[0] == counts[1]
