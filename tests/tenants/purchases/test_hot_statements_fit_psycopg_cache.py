"""Every statement a purchase sends stays within what psycopg caches its parse
of: a statement longer than ``MAX_CACHED_STATEMENT_LENGTH`` bytes, or with more
than ``MAX_CACHED_STATEMENT_PARAMS`` parameters, has its placeholders parsed
again (a regular expression over the whole text) at every execution. The
receipt's insert carrying the tier check was 4,184 bytes before it was compacted
and cost half a millisecond of the web worker's CPU per purchase that way."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import _queries

from coalition.members.services import member_enrol
from coalition.tiers.models import TierLevel
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.purchases.services import Receipt, ReceiptLine, purchase_record
from tests.testkit import in_partner
from tests.testkit.earning import publish


def test_each_statement_of_a_purchase_is_one_psycopg_caches(db: None, partner_a: Partner) -> None:
    now = timezone.now()
    TierLevel.objects.create(code="blue", name="Blue", rank=0, threshold_points=0)
    TierLevel.objects.create(code="gold", name="Gold", rank=1, threshold_points=100)
    member = member_enrol(email="cached@example.com")
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        earning.campaign_create(
            name="double", kind="multiplier", params={"multiplier": "2"},
            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1),
            budget_points=10_000,
        )  # fmt: skip
        lines = tuple(ReceiptLine(f"SKU-{n}", "fresh", 1, 1000) for n in range(5))
        receipt = Receipt(
            external_id="R-cached", member_id=member.pk, occurred_at=now, currency="EUR",
            lines=lines, total=5000,
        )  # fmt: skip
        with CaptureQueriesContext(connection) as captured:
            result = purchase_record(
                receipt, idempotency=IdempotencyKey("test", "R-cached"), now=now
            )
    # 50 EUR at 1 point per EUR, doubled by the budgeted campaign: 100 points
    # reach gold, so the budget take and the tier check both ran.
    assert result.points == 100
    sent = [q["sql"].removeprefix("[driver] ") for q in captured.captured_queries]
    assert any("tier_check" in sql for sql in sent), sent
    too_long = [
        (len(sql.encode()), sql[:60]) for sql in sent
        if len(sql.encode()) > _queries.MAX_CACHED_STATEMENT_LENGTH
    ]  # fmt: skip
    assert not too_long
    too_many = [
        sql[:60] for sql in sent
        if len(set(re.findall(r"%\((\w+)\)s", sql))) > _queries.MAX_CACHED_STATEMENT_PARAMS
    ]  # fmt: skip
    assert not too_many


def test_compact_sql_keeps_quoted_text_and_line_breaks() -> None:
    sql = "SELECT  'a  b',\n     \"x  y\"   -- a note\n   FROM   t  WHERE s = 'it''s  so'"
    assert driver_sql.compact_sql(sql) == (
        "SELECT 'a  b',\n\"x  y\" -- a note\nFROM t WHERE s = 'it''s  so'"
    )
