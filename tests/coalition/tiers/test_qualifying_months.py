"""Qualifying months: the running aggregate the tier check reads agrees with the
journal, and the check's cost does not grow with the member's history.

The definition of qualifying points is the journal's: the member's wallet entries
of earns and earn reversals stamped in [start, end). ``journal_points`` below
writes it out; ``qualifying_points`` reads the ``QualifyingMonth`` rows that the
statements posting the entries keep (a trigger on ``ledger_entry``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.tiers import services as tier_services
from coalition.tiers.models import QualificationPeriod, QualifyingMonth, TierLevel, TierPolicy
from coalition.tiers.selectors import qualifying_points
from tenants.partners.models import Partner
from tests.testkit.earning import new_member, uid
from tests.testkit.ledger import fetchall, post_journal_at, scalar

NOW = datetime(2031, 3, 10, 15, 30, tzinfo=UTC)


@contextmanager
def _rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def journal_points(member_id: int, start: datetime, end: datetime) -> int:
    """The definition: earns minus their reversals in [start, end), from the journal."""
    return int(
        scalar(
            """
            SELECT coalesce(sum(e.amount), 0)
              FROM public.ledger_account a
              JOIN public.ledger_entry e ON e.account_id = a.id
              JOIN public.ledger_transaction t ON t.id = e.transaction_id
             WHERE a.member_id = %s AND a.kind = 'wallet'
               AND t.kind IN ('earn', 'earn_reversal')
               AND t.created_at >= %s AND t.created_at < %s
            """,
            [member_id, start, end],
        )
    )


def _journal_months(member_ids: list[int]) -> dict[tuple[int, Any], int]:
    rows = fetchall(
        """
        SELECT a.member_id, date_trunc('month', t.created_at AT TIME ZONE 'UTC')::date,
               sum(e.amount)
          FROM public.ledger_account a
          JOIN public.ledger_entry e ON e.account_id = a.id
          JOIN public.ledger_transaction t ON t.id = e.transaction_id
         WHERE a.member_id = ANY(%s) AND a.kind = 'wallet'
           AND t.kind IN ('earn', 'earn_reversal')
         GROUP BY 1, 2
        """,
        [member_ids],
    )
    return {(row[0], row[1]): int(row[2]) for row in rows}


def _aggregate_months(member_ids: list[int]) -> dict[tuple[int, Any], int]:
    return {
        (row.member_id, row.month): row.points
        for row in QualifyingMonth.objects.filter(member_id__in=member_ids)
    }


# A history: journal rows stamped minutes from NOW over eight months (earns, and
# reversals as negative amounts), for one of two members. Window bounds: any
# minute, a month's first instant (whole months), or an entry's own instant.
SPAN = 120 * 24 * 60
stamped = st.lists(
    st.tuples(st.integers(-SPAN, SPAN), st.integers(-400, 900).filter(bool), st.booleans()),
    max_size=14,
)
MONTH_STARTS = [
    int((datetime(year, month, 1, tzinfo=UTC) - NOW).total_seconds() // 60)
    for year, month in [(2030, 11), (2030, 12), (2031, 1), (2031, 2), (2031, 3), (2031, 4),
                        (2031, 5), (2031, 6), (2031, 7)]
]  # fmt: skip


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=stamped, data=st.data())
def test_qualifying_months_equal_the_journal_sums_on_generated_histories(
    db: None, partner_a: Partner, partner_b: Partner, history: list[tuple[int, int, bool]],
    data: st.DataObject,
) -> None:  # fmt: skip
    with _rolled_back():
        # given two members with journal rows at minutes around NOW, and entries the
        # ledger's own statements post now: an earn, a batch earn, a partial reversal
        members = [new_member(), new_member()]
        for offset, amount, first in history:
            post_journal_at(
                member_id=members[0 if first else 1].pk, partner_id=partner_a.pk,
                amount=amount, at=NOW + timedelta(minutes=offset),
            )  # fmt: skip
        earned = ledger.earn(member_id=members[0].pk, partner_id=partner_b.pk, points=300)
        ledger.earn_batch(
            [ledger.EarnRequest(member.pk, partner_a.pk, 40 + index)
             for index, member in enumerate(members)]
        )  # fmt: skip
        ledger.reverse(transaction_id=earned.transaction_id, points=120)
        ids = [member.pk for member in members]

        # then every member's months hold exactly the journal's sums per month
        assert _aggregate_months(ids) == _journal_months(ids)
        # and for any window, whole months or cut inside one, the aggregate's
        # qualifying points are the journal's
        bound = st.one_of(
            st.integers(-SPAN - 60 * 24 * 30, SPAN + 60 * 24 * 30),
            st.sampled_from(MONTH_STARTS),
            st.sampled_from([offset for offset, _, _ in history] or [0]),
        )
        db_now = scalar("SELECT now()")
        for a, b in data.draw(st.lists(st.tuples(bound, bound), min_size=1, max_size=4)):
            in_history = (NOW + timedelta(minutes=min(a, b)), NOW + timedelta(minutes=max(a, b)))
            up_to_now = (db_now - timedelta(minutes=abs(a)), db_now + timedelta(seconds=1))
            for start, end in (in_history, up_to_now):
                for member in ids:
                    assert qualifying_points(member, start, end) == journal_points(
                        member, start, end
                    ), (member, start, end)


def test_the_backfill_rebuilds_the_months_from_the_journal(db: None, partner_a: Partner) -> None:
    # given members with earns and reversals in several months
    members = [new_member(), new_member()]
    for index, member in enumerate(members):
        for days in (0, 1, 1, 40):
            post_journal_at(member_id=member.pk, partner_id=partner_a.pk, amount=100 + index,
                            at=NOW - timedelta(days=days, hours=index))  # fmt: skip
        post_journal_at(member_id=member.pk, partner_id=partner_a.pk, amount=-30, at=NOW)
    ids = [member.pk for member in members]
    expected = _aggregate_months(ids)
    # when the months are lost and the migration's backfill runs again
    migration = importlib.import_module("coalition.tiers.migrations.0003_qualifying_month_bounds")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM public.tiers_qualifyingmonth")
        cursor.execute(migration._ADD_ENTRIES.format(entries="public.ledger_entry"))
    # then they are what the triggers had kept, which is what the journal says
    assert _aggregate_months(ids) == expected == _journal_months(ids)
    assert all(
        month.first_at <= month.last_at and month.first_tx <= month.last_tx
        for month in QualifyingMonth.objects.all()
    )


def _buffers_read(sql: str, params: dict[str, Any]) -> int:
    """Shared buffers the statement touches (hit or read), from its plan."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def total(node: dict[str, Any]) -> int:
        return int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0))

    # A node's counts include its children's: the top node and the init plans
    # (the scalar subqueries of the select list) hold the statement's total.
    top = plan[0]["Plan"]
    return total(top) + sum(total(child) for child in top.get("Plans", ()))


def _upgrade_check_reads(member: Member, now: datetime) -> int:
    params: dict[str, Any] = {"member": member.pk, "end": now + timedelta(microseconds=1)}
    for index, qualification in enumerate(tier_services._WINDOWS):
        window = tier_services.qualification_window(TierPolicy(qualification=qualification), now)
        params[f"start_{index}"] = window[0]
    return _buffers_read(tier_services._UPGRADE_CHECK_SQL, params)


def test_the_upgrade_check_reads_no_more_for_a_long_history(db: None, partner_a: Partner) -> None:
    # given tier levels and two members with the same earns this year; one of
    # them also has 400 earns from two and three years ago
    TierLevel.objects.create(code=uid("q").lower()[:20], name="Entry", rank=950,
                             threshold_points=0)  # fmt: skip
    TierPolicy.objects.create(qualification=QualificationPeriod.ROLLING_12_MONTHS)
    short, long = new_member(), new_member()
    for member in (short, long):
        for days in (1, 20, 90):
            post_journal_at(member_id=member.pk, partner_id=partner_a.pk, amount=50,
                            at=NOW - timedelta(days=days))  # fmt: skip
    for index in range(400):
        post_journal_at(member_id=long.pk, partner_id=partner_a.pk, amount=10,
                        at=NOW - timedelta(days=730 + index))  # fmt: skip

    # when the check after a purchase reads each member's standing
    short_reads, long_reads = _upgrade_check_reads(short, NOW), _upgrade_check_reads(long, NOW)

    # then the long history costs no more pages than the short one (it used to
    # read every earn the member ever had)
    assert long_reads <= short_reads + 2, (short_reads, long_reads)
    assert qualifying_points(long.pk, NOW - timedelta(days=365), NOW) == 150


def test_a_member_earning_often_keeps_a_month_row_of_one_size(db: None, partner_a: Partner) -> None:
    # given one member who earned once this month and one who earned 400 times
    TierLevel.objects.create(code=uid("q").lower()[:20], name="Entry", rank=951,
                             threshold_points=0)  # fmt: skip
    TierPolicy.objects.create(qualification=QualificationPeriod.ROLLING_12_MONTHS)
    once, often = new_member(), new_member()
    post_journal_at(member_id=once.pk, partner_id=partner_a.pk, amount=10,
                    at=NOW - timedelta(minutes=5))  # fmt: skip
    # (posted in one statement: the row is written once, so the test transaction
    # leaves no 400 dead versions of it for the reads below to step over)
    scalar(
        """
        WITH header AS (
            INSERT INTO public.ledger_transaction
                (kind, partner_id, member_id, points, external_ref, memo, request_hash,
                 result, created_at)
            SELECT 'earn', %(partner)s, %(member)s, 10, '', 'backdated', '', '{}'::jsonb,
                   %(now)s - make_interval(mins => g)
              FROM generate_series(1, 400) g
            RETURNING id
        ), entries AS (
            INSERT INTO public.ledger_entry (transaction_id, account_id, amount)
            SELECT header.id, a.id, CASE WHEN a.kind = 'wallet' THEN 10 ELSE -10 END
              FROM header, public.ledger_account a
             WHERE (a.kind = 'wallet' AND a.member_id = %(member)s)
                OR (a.kind = 'issuance' AND a.partner_id = %(partner)s)
        )
        SELECT count(*) FROM header
        """,
        {"partner": partner_a.pk, "member": often.pk, "now": NOW},
    )

    # then their month rows are the same size: each earn updates a fixed-size row
    # (0002 appended every entry to arrays in the row, so each earn rewrote a row
    # that grew all month, and the demo workload's purchases grew dearer)
    def row_bytes(member: Member) -> int:
        return int(scalar("SELECT pg_column_size(q.*) FROM public.tiers_qualifyingmonth q"
                          " WHERE q.member_id = %s", [member.pk]))  # fmt: skip

    assert row_bytes(often) == row_bytes(once)
    # and the check after a purchase reads no more pages for the frequent earner
    once_reads, often_reads = _upgrade_check_reads(once, NOW), _upgrade_check_reads(often, NOW)
    assert often_reads <= once_reads + 2, (once_reads, often_reads)
    assert qualifying_points(often.pk, NOW - timedelta(days=365), NOW) == 4000


def test_a_window_starting_inside_a_month_sums_only_its_entries_from_the_journal(
    db: None, partner_a: Partner
) -> None:
    # given a member who earned at the start and the end of a month a year ago
    member = new_member()
    start = datetime(2030, 3, 10, 12, tzinfo=UTC)
    for at, amount in ((start - timedelta(days=5), 100), (start + timedelta(days=5), 7),
                       (start - timedelta(seconds=1), 1000), (start, 20)):  # fmt: skip
        post_journal_at(member_id=member.pk, partner_id=partner_a.pk, amount=amount, at=at)
    # when a rolling window starts at an instant inside that month
    # then only the entries at or after the start count, as in the journal
    assert qualifying_points(member.pk, start, NOW) == 27 == journal_points(member.pk, start, NOW)
    assert qualifying_points(member.pk, start + timedelta(days=6), NOW) == 0
