"""What the operator's settlement pages show and do: the periods page (the open
period, when it is due and its figures so far; closed periods with totals,
payment state and CSV), closing the open period (due: no reason needed; early:
a reason, else a typed error; a double press closes once and audits once; a
period closed meanwhile is not followed by a close of the next), one period's
statements, obligations and netted transfers with their CSVs, and one statement
line by line."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coalition.audit.models import AuditEntry
from coalition.settlement.models import PeriodStatus, SettlementPeriod, Statement
from coalition.settlement.operations import CLOSE_ACTION
from coalition.settlement.periods import period_open
from tenants.partners.models import Partner
from tests.testkit.operator import login_as
from tests.testkit.settlement import close_everything_before, close_now, period_with_netting

pytestmark = pytest.mark.django_db


def _html(response: Any) -> str:
    return response.content.decode()


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def _make_due() -> SettlementPeriod:
    """The open period, opened long enough ago that the calendar says it is due."""
    period = period_open()
    SettlementPeriod.objects.filter(pk=period.pk).update(
        opened_at=timezone.now() - timedelta(days=70)
    )
    period.refresh_from_db()
    return period


def _close(client: Any, number: int, *, reason: str = "", key: str | None = None) -> Any:
    return client.post(
        "/operator/settlement/close/",
        {"period": number, "reason": reason, "idempotency_key": key or uuid4().hex},
    )


def test_the_periods_page_shows_the_open_period_and_the_closed_ones(
    partner_a: Partner, partner_b: Partner
) -> None:
    closed = period_with_netting(partner_a, partner_b)
    client, _ = login_as("finance", partner_a)
    html = _html(client.get("/operator/settlement/"))
    assert "Open period" in html
    assert f"<dd>{closed.number + 1}</dd>" in html  # the open one is the next
    assert "Close period" in html
    assert "early" in html
    assert f'href="/operator/settlement/periods/{closed.number}/"' in html
    assert '<svg class="chart"' in html
    # read-only staff read it, without the close button
    reader, _ = login_as("read_only", partner_a)
    assert "/operator/settlement/close/" not in _html(reader.get("/operator/settlement/"))


def test_the_periods_csv_has_a_row_per_closed_period_and_currency(
    partner_a: Partner, partner_b: Partner
) -> None:
    period = period_with_netting(partner_a, partner_b)
    client, _ = login_as("admin", partner_a)
    rows = _csv(client.get("/operator/settlement/", {"format": "csv"}))
    assert rows[0][:3] == ["period", "opened_at", "closed_at"]
    mine = {
        row[6]: dict(zip(rows[0], row, strict=True))
        for row in rows[1:]
        if row[0] == str(period.number)
    }
    # the issuer pays 1000 x 1.0 + 2 % fee = 10.20; the redeemer receives 600 x 0.5 = 3.00,
    # each in its own currency
    issuer, redeemer = mine[partner_a.default_currency], mine[partner_b.default_currency]
    assert (issuer["owed_by_partners"], issuer["owed_to_partners"]) == ("10.20", "0.00")
    assert (redeemer["owed_by_partners"], redeemer["owed_to_partners"]) == ("0.00", "3.00")
    assert issuer["statements"] == "2"
    assert issuer["closed_early"] == "True"


def test_the_periods_page_makes_the_same_queries_for_one_period_or_many(
    partner_a: Partner, partner_b: Partner
) -> None:
    period_with_netting(partner_a, partner_b)
    client, _ = login_as("read_only", partner_a)
    client.get("/operator/settlement/")
    with CaptureQueriesContext(connection) as few:
        client.get("/operator/settlement/")
    close_now(enqueue_payouts=False)
    close_now(enqueue_payouts=False)
    with CaptureQueriesContext(connection) as more:
        client.get("/operator/settlement/")
    assert len(more) == len(few)


def test_a_due_period_closes_without_a_reason_and_is_audited(partner_a: Partner) -> None:
    close_everything_before()
    due = _make_due()
    client, user = login_as("finance", partner_a)
    check = _html(client.get("/operator/settlement/close/"))
    assert f"Close period {due.number}?" in check
    assert "due now" in check
    assert 'name="reason"' not in check  # a due close asks for no reason
    response = _close(client, due.number)
    assert response.status_code == 302
    assert response["Location"] == f"/operator/settlement/periods/{due.number}/"
    due.refresh_from_db()
    assert due.status == PeriodStatus.CLOSED
    assert due.closed_early is False
    entry = AuditEntry.objects.get(action=CLOSE_ACTION, object_id=str(due.number))
    assert entry.actor_id == user.pk
    assert entry.after["closed_early"] is False


def test_an_early_close_needs_a_reason_and_records_it(partner_a: Partner) -> None:
    close_everything_before()
    open_period = period_open()
    client, user = login_as("admin", partner_a)
    check = _html(client.get("/operator/settlement/close/"))
    assert f"Close period {open_period.number} early?" in check
    audits = AuditEntry.objects.count()
    # without a reason: refused with the domain's typed error, nothing closes
    refused = _close(client, open_period.number, reason="  ")
    assert refused.status_code == 400
    assert "Say why the period closes before it is due" in _html(refused)
    open_period.refresh_from_db()
    assert open_period.status == PeriodStatus.OPEN
    assert AuditEntry.objects.count() == audits
    # with one: closed early, the period and the audit log keep the reason
    assert _close(client, open_period.number, reason="partner leaves").status_code == 302
    open_period.refresh_from_db()
    assert open_period.status == PeriodStatus.CLOSED
    assert (open_period.closed_early, open_period.close_reason) == (True, "partner leaves")
    entry = AuditEntry.objects.get(action=CLOSE_ACTION, object_id=str(open_period.number))
    assert (entry.actor_id, entry.after["reason"]) == (user.pk, "partner leaves")


def test_a_double_press_closes_once_and_a_stale_page_closes_nothing_more(
    partner_a: Partner,
) -> None:
    close_everything_before()
    due = _make_due()
    client, _ = login_as("finance", partner_a)
    key = uuid4().hex
    first = _close(client, due.number, key=key)
    second = _close(client, due.number, key=key)
    assert first["Location"] == second["Location"] == f"/operator/settlement/periods/{due.number}/"
    assert SettlementPeriod.objects.filter(number__gt=due.number).count() == 1  # the next, open
    assert AuditEntry.objects.filter(action=CLOSE_ACTION, object_id=str(due.number)).count() == 1
    # a colleague's page still showing the closed period: nothing more closes
    colleague, _ = login_as("admin", partner_a)
    late = _close(colleague, due.number, reason="closing it too")
    assert late.status_code == 302
    assert period_open().number == due.number + 1
    assert period_open().status == PeriodStatus.OPEN
    follow = colleague.get(late["Location"])
    assert f"Period {due.number} was closed already." in _html(follow)


def test_the_period_page_shows_statements_obligations_and_transfers(
    partner_a: Partner, partner_b: Partner
) -> None:
    period = period_with_netting(partner_a, partner_b)
    client, _ = login_as("read_only", partner_a)
    html = _html(client.get(f"/operator/settlement/periods/{period.number}/"))
    assert partner_a.name in html
    assert partner_b.name in html
    assert "Bilateral obligations" in html
    assert "Netted transfers" in html
    assert "Download the obligations as CSV" in html
    issuer = Statement.objects.get(period=period, partner=partner_a)
    assert f'href="/operator/settlement/periods/{period.number}/statements/{issuer.pk}/"' in html
    # the open period has no page of its own yet, an unknown one none at all
    assert client.get(f"/operator/settlement/periods/{period.number + 1}/").status_code == 404
    assert client.get("/operator/settlement/periods/999999/").status_code == 404


def test_the_period_csvs_have_every_statement_obligation_and_transfer(
    partner_a: Partner, partner_b: Partner
) -> None:
    period = period_with_netting(partner_a, partner_b)
    client, _ = login_as("finance", partner_a)
    page = f"/operator/settlement/periods/{period.number}/"
    statements = _csv(client.get(page, {"format": "csv"}))
    by_slug = {row[2]: dict(zip(statements[0], row, strict=True)) for row in statements[1:]}
    issuer = by_slug[partner_a.slug]
    # gross 1000 x 1.0 - 600 x 0.5 owed on... the issuer's own statement: issuance 10.00, fee 0.20
    assert (issuer["gross"], issuer["fees"], issuer["net"]) == ("10.00", "0.20", "10.20")
    assert by_slug[partner_b.slug]["net"] == "-3.00"
    obligations = _csv(client.get(page, {"format": "csv", "table": "obligations"}))
    assert obligations[1:] == [
        [str(period.number), partner_b.default_currency, partner_a.slug, partner_b.slug, "600",
         "3.00"]
    ]  # fmt: skip
    transfers = _csv(client.get(page, {"format": "csv", "table": "transfers"}))
    assert transfers[1:] == [
        [str(period.number), partner_b.default_currency, partner_a.slug, partner_b.slug, "3.00"]
    ]
    assert client.get(page, {"format": "csv", "table": "nothing"}).status_code == 404


def test_the_statement_page_lists_its_lines_and_downloads_them(
    partner_a: Partner, partner_b: Partner
) -> None:
    period = period_with_netting(partner_a, partner_b)
    issuer = Statement.objects.get(period=period, partner=partner_a)
    client, _ = login_as("admin", partner_a)
    page = f"/operator/settlement/periods/{period.number}/statements/{issuer.pk}/"
    html = _html(client.get(page))
    assert f"{partner_a.name}: statement of period {period.number}" in html
    assert "Points issued" in html
    assert "Percentage fee" in html
    rows = _csv(client.get(page, {"format": "csv"}))
    kinds = sorted(row[3] for row in rows[1:])
    assert kinds == ["fee_percent", "issued"]
    # a statement is found only in its own period
    assert (
        client.get(
            f"/operator/settlement/periods/{period.number - 1}/statements/{issuer.pk}/"
        ).status_code
        == 404
    )
