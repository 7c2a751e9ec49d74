"""Benchmark: the operator's finance report over a million journal entries.

Run with `./loyalty bench operator`. On one test database, in one run:

1. 100 partners with settlement terms (EUR, GBP, USD, prices between 0.5 and 1.5);
2. a journal of at least 1,000,000 entries written through the ledger's own
   services: ``earn_batch`` in big batches from a few threads (some lots expiring),
   single burns, holds (captured in part, voided, or left pending) and an expiry
   sweep; then the journal headers are spread over the last 13 months (as a
   superuser would, the append-only guard lifted for that update), so the months
   have work to group;
3. the finance rollups folded from zero over the whole journal, timed once (what a
   first deployment or ``finance_rollup_rebuild`` costs; the beat then folds a
   minute's tail at a time);
4. ``finance_report()`` timed ``RUNS`` times after ``WARM_UP`` runs, next to the plain
   SQL an analyst would write over the same data, timed as often in the same run:
   ``SELECT issuer_id, sum(remaining) FROM ledger_lot WHERE remaining > 0 GROUP BY 1``
   and ``GROUP BY date_trunc('month', created_at), kind`` over ``ledger_transaction``;
5. ``TAIL`` more earns posted and not folded (the rollup stale, as between two beat
   runs under load), and the report timed again: it reads that tail live.

Prints one table (metric | value | baseline | ratio | target | met?). Asserts only
that the report reads the data (its outstanding points are the lots' sum, its
months hold the earns), never a timing. Target: p95 under 300 ms.

``LOYALTY_BENCH_SCALE=0.01`` runs the same steps on 3 partners and 10,000 entries:
a quick check that the benchmark still runs, not a measurement.
"""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.ledger.errors import InsufficientPoints
from coalition.ledger.services import EarnRequest
from coalition.settlement.finance import FinanceReport, finance_report, finance_rollup_advance
from coalition.settlement.models import SettlementTerms
from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tests.testkit import assert_on_test_database
from tests.testkit.bench import in_threads, met, percentile, print_table, scalar, timed
from tests.testkit.concurrency import bulk_members

SCALE = float(os.environ.get("LOYALTY_BENCH_SCALE", "1"))
FILL_CLIENTS = 2
BATCH_SIZE = 5_000
EXPIRING_SHARE = 0.01  # of earns: lots that expire in the sweep
WARM_UP = 3
RUNS = 30
TARGET_MS = 300.0
SPREAD_MONTHS = 13
TAIL = 10_000  # earns posted after the fold, read live by the report (scaled)

OLD = datetime(2000, 1, 1, tzinfo=UTC)
EXPIRES_AT = datetime(2001, 1, 1, tzinfo=UTC)  # the sweep below expires these lots only

LOTS_SQL = """
SELECT issuer_id, sum(remaining) FROM public.ledger_lot WHERE remaining > 0 GROUP BY 1
"""
MONTHS_SQL = """
SELECT date_trunc('month', created_at), kind, sum(points)
  FROM public.ledger_transaction GROUP BY 1, 2
"""


@dataclass(frozen=True)
class Scale:
    partners: int
    members: int
    min_entries: int
    burns: int
    holds: int

    @classmethod
    def of(cls, scale: float) -> Scale:
        return cls(
            partners=max(int(100 * scale), 3),
            members=max(int(20_000 * scale), 50),
            min_entries=max(int(1_000_000 * scale), 1_000),
            burns=max(int(4_000 * scale), 20),
            holds=max(int(1_500 * scale), 9),
        )


@dataclass
class OperatorBench:
    scale: Scale
    entries: int
    fill: dict[str, Any]
    report: FinanceReport
    report_ms: list[float]
    lots_ms: list[float]
    months_ms: list[float]
    set_up_seconds: float
    fold_seconds: float = 0.0
    tail: int = 0
    stale_report_ms: list[float] | None = None


def _partners(run: str, count: int) -> list[Partner]:
    rng = random.Random(1)
    partners = []
    for index in range(count):
        partner = partner_onboard(
            name=f"Bench operator {index}",
            slug=f"bo{run}-{index:03d}",
            default_currency=("EUR", "GBP", "USD")[index % 3],
            activate=True,
        )
        connection.set_schema_to_public()
        SettlementTerms.objects.create(
            partner=partner,
            effective_from=OLD,
            currency=partner.default_currency,
            issuance_price=Decimal(rng.randint(500, 1500)) / 1000,
            reimbursement_rate=Decimal(rng.randint(400, 1200)) / 1000,
        )
        partners.append(partner)
    return partners


def _entries_since(start: int) -> int:
    return int(
        scalar("SELECT count(*) FROM public.ledger_entry WHERE transaction_id > %s", [start])
    )


def _fill(
    scale: Scale, partner_ids: list[int], members: list[int], start: int, clients: int
) -> dict[str, Any]:
    # earns: two entries each; burns, holds and their ends, expiries: a few more
    other_entries = 2 * scale.burns + 5 * scale.holds + 2 * scale.members
    earns_needed = max((scale.min_entries - other_entries + 1) // 2 + 1, 1)
    per_client = -(-earns_needed // clients)

    def earn(index: int) -> int:
        rng, done = random.Random(10 + index), 0
        while done < per_client:
            size = min(BATCH_SIZE, per_client - done)
            ledger.earn_batch(
                [
                    EarnRequest(
                        member_id=rng.choice(members),
                        partner_id=rng.choice(partner_ids),
                        points=rng.randint(20, 400),
                        expires_at=EXPIRES_AT if rng.random() < EXPIRING_SHARE else None,
                    )
                    for _ in range(size)
                ],
                now=OLD,  # EXPIRES_AT lies after it
            )
            done += size
        return done

    # one client earns in this thread: an ordinary test's transaction sees it
    earns = earn(0) if clients == 1 else sum(in_threads(clients, earn))
    rng = random.Random(20)
    burns = holds = 0
    for _ in range(scale.burns):
        try:
            ledger.burn(member_id=rng.choice(members), partner_id=rng.choice(partner_ids),
                        points=rng.randint(5, 150))  # fmt: skip
            burns += 1
        except InsufficientPoints:
            pass
    for n in range(scale.holds):
        try:
            hold = ledger.hold_authorize(
                member_id=rng.choice(members), partner_id=rng.choice(partner_ids),
                points=rng.randint(5, 150), expires_in=timedelta(days=30),
            )  # fmt: skip
        except InsufficientPoints:
            continue
        holds += 1
        hold_id = int(hold.result["hold"])
        if n % 3 == 0:
            ledger.hold_capture(hold_id=hold_id, points=max(1, hold.points // 2))
        elif n % 3 == 1:
            ledger.hold_void(hold_id=hold_id)
    expired = 0
    while swept := ledger.lots_expire(now=EXPIRES_AT + timedelta(seconds=1), limit=10_000):
        expired += swept
    missing = scale.min_entries - _entries_since(start)
    if missing > 0:  # top up (burns and holds that found too few points)
        items = [
            EarnRequest(member_id=rng.choice(members), partner_id=rng.choice(partner_ids),
                        points=rng.randint(20, 400))
            for _ in range(missing // 2 + 1)
        ]  # fmt: skip
        earns += len(ledger.earn_batch(items))
    return {"earns": earns, "burns": burns, "holds": holds, "expired": expired}


def _spread_over_months(start: int) -> None:
    """Stamp the new headers over the last ``SPREAD_MONTHS`` months (by id)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            """
            UPDATE public.ledger_transaction
               SET created_at = created_at - (id %% %s) * interval '30 days'
             WHERE id > %s
            """,
            [SPREAD_MONTHS, start],
        )
        cursor.execute("SET LOCAL session_replication_role = origin")


def _times(work: Any, runs: int) -> list[float]:
    for _ in range(WARM_UP):
        work()
    return [timed(work)[1] * 1000 for _ in range(runs)]


def _plain(sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def operator_bench(
    scale_factor: float = SCALE, *, fill_clients: int = FILL_CLIENTS, runs: int = RUNS
) -> OperatorBench:
    scale = Scale.of(scale_factor)
    run = uuid.uuid4().hex[:6]
    (partner_ids, members), set_up_seconds = timed(
        lambda: (
            [p.pk for p in _partners(run, scale.partners)],
            bulk_members(scale.members, f"bo{run}"),
        )
    )
    start = int(scalar("SELECT coalesce(max(id), 0) FROM public.ledger_transaction"))
    fill, fill_seconds = timed(lambda: _fill(scale, partner_ids, members, start, fill_clients))
    fill["seconds"] = fill_seconds
    _spread_over_months(start)
    if not connection.in_atomic_block:
        with connection.cursor() as cursor:  # as autovacuum would after such a load
            cursor.execute(
                "VACUUM (ANALYZE) public.ledger_entry, public.ledger_transaction, "
                "public.ledger_lot, public.ledger_lotmovement, public.ledger_hold"
            )
    entries = _entries_since(start)
    _, fold_seconds = timed(finance_rollup_advance)
    report_ms = _times(finance_report, runs)
    lots_ms = _times(lambda: _plain(LOTS_SQL), runs)
    months_ms = _times(lambda: _plain(MONTHS_SQL), runs)
    # the rollup left behind by a tail of earns (in this month), read live
    tail = max(int(TAIL * scale_factor), 10)
    rng = random.Random(30)
    ledger.earn_batch(
        [
            EarnRequest(member_id=rng.choice(members), partner_id=rng.choice(partner_ids),
                        points=rng.randint(20, 400))
            for _ in range(tail)
        ]
    )  # fmt: skip
    stale_report_ms = _times(finance_report, runs)
    report = finance_report(timezone.now())
    # the report reads the data: the lots' outstanding points, the months' earns
    assert sum(line.outstanding_points for line in report.lines) == sum(
        int(points) for _, points in _plain(LOTS_SQL)
    )
    assert sum(month.issued for month in report.months) > 0
    assert report.expired_points >= fill["expired"]
    return OperatorBench(
        scale, entries, fill, report, report_ms, lots_ms, months_ms, set_up_seconds,
        fold_seconds, tail, stale_report_ms,
    )  # fmt: skip


def table_rows(bench: OperatorBench) -> list[tuple[str, str, str, str, str, str]]:
    p95 = percentile(bench.report_ms, 95)
    plain = [a + b for a, b in zip(bench.lots_ms, bench.months_ms, strict=True)]
    plain_p95 = percentile(plain, 95)
    stale = bench.stale_report_ms or []
    stale_p95 = percentile(stale, 95) if stale else 0.0
    return [
        (
            "finance_report() (liability, breakage, 12 months)",
            f"p95 {p95:.1f} ms (p50 {percentile(bench.report_ms, 50):.1f})",
            f"plain SQL p95 {plain_p95:.1f} ms (p50 {percentile(plain, 50):.1f})",
            f"{p95 / plain_p95:.2f}x" if plain_p95 else "-",
            f"p95 < {TARGET_MS:.0f} ms",
            met(p95 < TARGET_MS),
        ),
        (
            f"finance_report(), rollup {bench.tail:,} earns behind",
            f"p95 {stale_p95:.1f} ms (p50 {percentile(stale, 50) if stale else 0.0:.1f})",
            f"plain SQL p95 {plain_p95:.1f} ms",
            f"{stale_p95 / plain_p95:.2f}x" if plain_p95 else "-",
            f"p95 < {TARGET_MS:.0f} ms",
            met(stale_p95 < TARGET_MS),
        ),
        (
            "  rollups folded from zero (once; then per beat run)",
            f"{bench.fold_seconds:.2f} s",
            "-", "-", "-", "-",
        ),
        (
            "  plain: lots GROUP BY issuer",
            f"p95 {percentile(bench.lots_ms, 95):.1f} ms",
            "-", "-", "-", "-",
        ),
        (
            "  plain: transactions GROUP BY month, kind",
            f"p95 {percentile(bench.months_ms, 95):.1f} ms",
            "-", "-", "-", "-",
        ),
    ]  # fmt: skip


def test_this_module_runs_on_the_test_database(db: None) -> None:
    assert_on_test_database()


def test_finance_report_over_a_million_entries(live_db: Any) -> None:
    assert_on_test_database()
    load_before = os.getloadavg()
    bench = operator_bench()
    fill = bench.fill
    print()
    print(
        f"finance report: {bench.scale.partners} partners, {bench.scale.members:,} members, "
        f"{bench.entries:,} journal entries ({fill['earns']:,} earns, {fill['burns']:,} burns, "
        f"{fill['holds']:,} holds, {fill['expired']:,} points expired), spread over "
        f"{SPREAD_MONTHS} months; {len(bench.report.lines)} issuers in the report"
    )
    print(
        f"set-up: partners and members {bench.set_up_seconds:.1f} s, fill "
        f"{fill['seconds']:.1f} s; {RUNS} runs each after {WARM_UP} to warm up; load before "
        f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    print_table(table_rows(bench))
