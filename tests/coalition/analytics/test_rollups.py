"""The dashboards' daily rollups agree with the journal: folded in any number of
steps, rebuilt from scratch, or computed by a plain GROUP BY, to the point;
partner adjustments included (their own columns, not purchases nor activity)."""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.analytics import services
from coalition.analytics.selectors import partner_figures
from coalition.ledger import services as ledger
from coalition.ledger.selectors import balance, points_issued_by
from tenants.partners.models import Partner
from tests.testkit.earning import new_member

pytestmark = pytest.mark.django_db

# (partner index, member index, earn, burn or an adjustment adding or taking back, points)
Operation = tuple[int, int, str, int]
operations = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.integers(0, 2),
        st.sampled_from(["earn", "burn", "add", "take_back"]),
        st.integers(1, 500),
    ),
    max_size=12,
)

PLAIN_SQL = """
SELECT t.partner_id, (t.created_at AT TIME ZONE p.time_zone)::date,
       coalesce(sum(t.points) FILTER (WHERE t.kind = 'earn'), 0),
       coalesce(sum(t.points) FILTER (WHERE t.kind IN ('burn', 'capture')), 0),
       count(*) FILTER (WHERE t.kind = 'earn'),
       count(*) FILTER (WHERE t.kind IN ('burn', 'capture')),
       count(DISTINCT t.member_id) FILTER (WHERE t.kind IN ('earn', 'burn', 'capture')),
       coalesce(sum(t.points) FILTER (WHERE t.kind = 'adjustment_credit'), 0),
       coalesce(sum(t.points) FILTER (WHERE t.kind = 'adjustment_debit'), 0),
       count(*) FILTER (WHERE t.kind IN ('adjustment_credit', 'adjustment_debit'))
  FROM ledger_transaction t JOIN partners_partner p ON p.id = t.partner_id
 GROUP BY 1, 2 ORDER BY 1, 2
"""

ROLLUP_SQL = """
SELECT partner_id, day, points_issued, points_redeemed, earn_count, redeem_count, active_members,
       points_adjusted_added, points_adjusted_taken_back, adjustment_count
  FROM analytics_partnerday ORDER BY 1, 2
"""


def _rows(sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [
            tuple(int(v) if isinstance(v, int) else v for v in row) for row in cursor.fetchall()
        ]


def _apply(ops: list[Operation], partners: list[Partner], members: list[Any]) -> None:
    for partner_index, member_index, kind, points in ops:
        member = members[member_index]
        partner = partners[partner_index]
        if kind == "earn":
            ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points)
        elif kind == "add":
            ledger.adjust(member_id=member.pk, partner_id=partner.pk, points=points)
        elif kind == "take_back":
            if points_issued_by(member.pk, partner.pk) >= points:
                ledger.adjust(member_id=member.pk, partner_id=partner.pk, points=-points)
        elif balance(member.pk) >= points:
            ledger.burn(member_id=member.pk, partner_id=partner.pk, points=points)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=operations, second=operations, batch=st.integers(1, 7))
def test_incremental_rebuilt_and_plain_figures_agree(
    partner_a: Partner, partner_b: Partner, first: list[Operation], second: list[Operation],
    batch: int,
) -> None:  # fmt: skip
    # given two partners in different time zones and three members
    Partner.objects.filter(pk=partner_b.pk).update(time_zone="America/New_York")
    partners = [partner_a, Partner.objects.get(pk=partner_b.pk)]
    members = [new_member("rollup") for _ in range(3)]
    services.rollups_rebuild()
    # when the journal grows in two steps, folded in small batches after each
    _apply(first, partners, members)
    services.rollups_advance(batch=batch)
    _apply(second, partners, members)
    services.rollups_advance(batch=batch)
    incremental = _rows(ROLLUP_SQL)
    # then a rebuild from scratch and a plain GROUP BY over the journal agree with it
    services.rollups_rebuild()
    assert _rows(ROLLUP_SQL) == incremental
    assert incremental == _rows(PLAIN_SQL)


def test_the_dashboard_figures_include_what_was_not_folded_yet(partner_a: Partner) -> None:
    # given folded history and then a purchase the folder has not seen
    member = new_member("tail")
    services.rollups_rebuild()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=40)
    services.rollups_advance()
    other = new_member("tail")
    ledger.earn(member_id=other.pk, partner_id=partner_a.pk, points=2)
    ledger.burn(member_id=member.pk, partner_id=partner_a.pk, points=15)
    with connection.cursor() as cursor:
        cursor.execute("SELECT (now() AT TIME ZONE 'UTC')::date")
        (today,) = cursor.fetchone()
    # when the dashboard reads the figures
    figures = partner_figures(partner_id=partner_a.pk, time_zone="UTC", today=today)
    # then today's figures equal the plain query, tail included, and nothing is counted twice
    plain = {row[1]: row for row in _rows(PLAIN_SQL) if row[0] == partner_a.pk}[today]
    assert (figures.today.issued, figures.today.redeemed, figures.today.active_members) == (
        plain[2],
        plain[3],
        plain[6],
    )
    assert figures.days[-1].day == today
    assert isinstance(figures.days[0].day, date)
    assert figures.active_members_period >= 2


def test_the_dashboard_counts_adjustments_apart_from_purchases_and_activity(
    partner_a: Partner,
) -> None:
    # given a member who only ever received an adjustment at A, partly taken back,
    # one of them folded and one not yet
    member = new_member("adjusted")
    services.rollups_rebuild()
    ledger.adjust(member_id=member.pk, partner_id=partner_a.pk, points=70)
    services.rollups_advance()
    ledger.adjust(member_id=member.pk, partner_id=partner_a.pk, points=-20)
    with connection.cursor() as cursor:
        cursor.execute("SELECT (now() AT TIME ZONE 'UTC')::date")
        (today,) = cursor.fetchone()
    plain = {row[1]: row for row in _rows(PLAIN_SQL) if row[0] == partner_a.pk}[today]
    # when the dashboard reads today's figures
    figures = partner_figures(partner_id=partner_a.pk, time_zone="UTC", today=today)
    # then the adjustments are there, and they are neither issued points nor activity
    assert (figures.today.adjusted_added, figures.today.adjusted_taken_back) == (
        plain[7],
        plain[8],
    )
    assert plain[7] >= 70
    assert plain[8] >= 20
    assert (figures.today.issued, figures.today.earns, figures.today.active_members) == (
        plain[2],
        plain[4],
        plain[6],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM analytics_memberactivity WHERE member_id = %s", [member.pk]
        )
        assert cursor.fetchone()[0] == 0


def test_the_migration_fills_the_adjustment_columns_of_days_already_folded(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given adjustments folded before the columns existed (zeroed, as they were then)
    member = new_member("backfill")
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=10)
    ledger.adjust(member_id=member.pk, partner_id=partner_a.pk, points=300)
    ledger.adjust(member_id=member.pk, partner_id=partner_a.pk, points=-120)
    ledger.adjust(member_id=member.pk, partner_id=partner_b.pk, points=5)
    services.rollups_rebuild()
    folded = _rows(ROLLUP_SQL)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE analytics_partnerday SET points_adjusted_added = 0,"
            " points_adjusted_taken_back = 0, adjustment_count = 0"
        )
    # when the migration's backfill runs
    migration = importlib.import_module(
        "coalition.analytics.migrations.0002_partner_day_adjustments"
    )
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    # then the rollups are what a fold with the columns gives, and what the journal says
    assert _rows(ROLLUP_SQL) == folded == _rows(PLAIN_SQL)
