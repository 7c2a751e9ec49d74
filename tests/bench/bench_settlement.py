"""Benchmark: closing a settlement period over a million journal entries.

Run with `./loyalty bench settlement`. On one test database, in one run:

1. 100 partners with settlement terms (three currencies, fees, breakage shares);
2. a journal of at least 1,000,000 entries in the open period, written through
   the ledger's own services: ``earn_batch`` in big batches from a few threads
   (issued points at 100 partners), plus single burns at other partners
   (redemptions attributed to issuers through lot movements), returns and an
   expiry sweep, so every statement line kind and the bilateral obligations have
   work to do;
3. ``period_close()`` over all of it, timed, next to the plain aggregate a
   finance analyst would write over the same entries (partner, account kind,
   transaction kind: count and sum), timed in the same run.

Prints one table (metric | value | baseline | ratio | target | met?). It asserts
only that the work was really done (statements issue exactly the points earned,
money is conserved), never a timing. Targets: the close under 10 s, and within
3x of the plain aggregate.
"""

from __future__ import annotations

import os
import random
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from coalition.ledger import services as ledger
from coalition.ledger.errors import InsufficientPoints, ReversalExceedsOriginal
from coalition.ledger.services import EarnRequest
from coalition.settlement import services as settlement
from coalition.settlement.models import LineKind, SettlementPeriod, SettlementTerms, StatementLine
from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tests.testkit import assert_on_test_database
from tests.testkit.bench import in_threads, met, print_table, scalar, timed
from tests.testkit.concurrency import bulk_members

PARTNERS = 100
MEMBERS_PER_CLIENT = 2_500
FILL_CLIENTS = 4
BATCH_SIZE = 5_000
BURNS = 4_000
RETURNS = 1_000
EXPIRING_SHARE = 0.002  # of earns: lots that expire in the sweep
MIN_ENTRIES = 1_000_000
BASELINE_RUNS = 3

TARGET_SECONDS = 10.0
TARGET_RATIO = 3.0

OLD = datetime(2000, 1, 1, tzinfo=UTC)
EXPIRES_AT = datetime(2001, 1, 1, tzinfo=UTC)  # the sweep below expires these lots only

BASELINE_SQL = """
SELECT a.partner_id, a.kind, t.kind, count(*), sum(e.amount)
  FROM public.ledger_entry e
  JOIN public.ledger_account a ON a.id = e.account_id
  JOIN public.ledger_transaction t ON t.id = e.transaction_id
 WHERE e.transaction_id > %(start)s AND e.transaction_id <= %(end)s
 GROUP BY 1, 2, 3
"""


# --- the coalition --------------------------------------------------------------------


def _partners(run: str) -> list[Partner]:
    """100 active partners in EUR, GBP and USD, each with its terms."""
    rng = random.Random(1)
    partners = []
    for index in range(PARTNERS):
        partner = partner_onboard(
            name=f"Bench settle {index}",
            slug=f"bs{run}-{index:03d}",
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
            fee_percent=Decimal(rng.choice([0, 0, 1, 2.5])),
            fee_fixed=rng.choice([0, 0, 500, 2_000]),
            breakage_share_percent=Decimal(rng.choice([0, 25, 50])),
        )
        partners.append(partner)
    return partners


def _cover_other_partners() -> None:
    """Terms for partners outside the benchmark (the session's), so closing the
    events of other benchmarks run before this one cannot stop on TermsMissing."""
    covered = SettlementTerms.objects.filter(effective_from__lte=OLD).values("partner_id")
    SettlementTerms.objects.bulk_create(
        SettlementTerms(
            partner=p, effective_from=OLD, currency=p.default_currency,
            issuance_price=Decimal(1), reimbursement_rate=Decimal(1),
        )
        for p in Partner.objects.exclude(pk__in=covered)
    )  # fmt: skip


# --- filling the journal through the ledger services ----------------------------------


def _entries_since(start: int) -> int:
    return int(
        scalar("SELECT count(*) FROM public.ledger_entry WHERE transaction_id > %s", [start])
    )


def _fill(partners: list[Partner], members: list[list[int]], start: int) -> dict[str, Any]:
    partner_ids = [p.pk for p in partners]
    other_entries = 2 * (BURNS + RETURNS) + 2 * MEMBERS_PER_CLIENT  # upper bound
    earns_needed = (MIN_ENTRIES - _entries_since(start) - other_entries + 1) // 2 + 1
    per_client = -(-earns_needed // FILL_CLIENTS)
    issued = [0] * FILL_CLIENTS
    sample: list[list[int]] = [[] for _ in range(FILL_CLIENTS)]

    def earn(index: int) -> int:
        rng, own, done = random.Random(10 + index), members[index], 0
        while done < per_client:
            size = min(BATCH_SIZE, per_client - done)
            items = [
                EarnRequest(
                    member_id=rng.choice(own),
                    partner_id=rng.choice(partner_ids),
                    points=rng.randint(20, 400),
                    expires_at=EXPIRES_AT if rng.random() < EXPIRING_SHARE else None,
                )
                for _ in range(size)
            ]
            postings = ledger.earn_batch(items, now=OLD)  # EXPIRES_AT lies after it
            issued[index] += sum(item.points for item in items)
            sample[index].extend(p.transaction_id for p in postings[:: max(1, size // 200)])
            done += size
        return done

    earned, earn_seconds = timed(lambda: sum(in_threads(FILL_CLIENTS, earn)))

    def burn_and_return(index: int) -> tuple[int, int]:
        rng, own, burns, returns = random.Random(20 + index), members[index], 0, 0
        for _ in range(BURNS // FILL_CLIENTS):
            try:
                ledger.burn(member_id=rng.choice(own), partner_id=rng.choice(partner_ids),
                            points=rng.randint(5, 150))  # fmt: skip
                burns += 1
            except InsufficientPoints:
                pass
        for tx_id in rng.sample(sample[index], min(len(sample[index]), RETURNS // FILL_CLIENTS)):
            try:
                ledger.reverse(
                    transaction_id=tx_id, points=rng.randint(1, 20), allow_shortfall=True
                )
                returns += 1
            except ReversalExceedsOriginal:
                pass
        return burns, returns

    counts, other_seconds = timed(lambda: in_threads(FILL_CLIENTS, burn_and_return))
    expired, expiry_seconds = timed(
        lambda: ledger.lots_expire(now=EXPIRES_AT + timedelta(seconds=1), limit=10_000)
    )
    missing = MIN_ENTRIES - _entries_since(start)
    if missing > 0:  # top up (burns that found too few points, shortfalls)
        rng = random.Random(30)
        items = [
            EarnRequest(member_id=rng.choice(members[0]), partner_id=rng.choice(partner_ids),
                        points=rng.randint(20, 400))
            for _ in range(missing // 2 + 1)
        ]  # fmt: skip
        earned += len(ledger.earn_batch(items))
        issued[0] += sum(item.points for item in items)
    with connection.cursor() as cursor:
        # as autovacuum would after such a load; done now, not in the middle of a timing
        cursor.execute(
            "VACUUM (ANALYZE) public.ledger_entry, public.ledger_transaction, "
            "public.ledger_account, public.ledger_lot, public.ledger_lotmovement"
        )
    return {
        "earns": earned,
        "issued": sum(issued),
        "earn_seconds": earn_seconds,
        "burns": sum(c[0] for c in counts),
        "returns": sum(c[1] for c in counts),
        "other_seconds": other_seconds,
        "expired": expired,
        "expiry_seconds": expiry_seconds,
    }


# --- report -----------------------------------------------------------------------------


def _server_label() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), current_setting('work_mem')")
        version, work_mem = cursor.fetchone()
    host = connection.settings_dict.get("HOST") or "socket"
    return f"PostgreSQL {version} at {host} (work_mem={work_mem}), {os.cpu_count()} CPUs"


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # The benchmark uses `live_db`, which alone would not make pytest-django create
    # the test database: it would write into the configured database.
    assert_on_test_database()


def test_period_close_over_a_million_entries(live_db: Any) -> None:
    assert_on_test_database()
    load_before = os.getloadavg()
    run = uuid.uuid4().hex[:6]

    # given 100 partners with terms, and members for a few importing clients
    partners, onboard_seconds = timed(lambda: _partners(run))
    members = [bulk_members(MEMBERS_PER_CLIENT, f"{run}-{i}") for i in range(FILL_CLIENTS)]
    _cover_other_partners()
    before = settlement.period_close(
        force=True, reason="benchmark"
    )  # whatever earlier benchmarks left
    assert before.end_watermark is not None
    start = before.end_watermark

    # and a journal of a million entries and more in the open period
    fill, fill_seconds = timed(lambda: _fill(partners, members, start))
    entries = _entries_since(start)
    assert entries >= MIN_ENTRIES

    # when the period is closed, between runs of the plain aggregate over the same
    # entries (the first run also warms the cache for both)
    end = int(scalar("SELECT max(id) FROM public.ledger_transaction"))
    bounds = {"start": start, "end": end}

    def baseline() -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL, bounds)
            return list(cursor.fetchall())

    baseline()
    period, close_seconds = timed(lambda: settlement.period_close(force=True, reason="benchmark"))
    assert period.end_watermark == end
    baseline_times = [timed(baseline)[1] for _ in range(BASELINE_RUNS)]
    rows_grouped = len(baseline())
    base = statistics.median(baseline_times)
    # the close's parts, again over the same range (read-only, for the table)
    _, statements_seconds = timed(lambda: settlement.compute_statements(start, end))
    _, obligations_seconds = timed(lambda: settlement.bilateral_obligations(start, end))

    # then the statements issued exactly the points earned, and money is conserved
    ours = [p.pk for p in partners]
    issued = StatementLine.objects.filter(
        statement__period=period, statement__partner__in=ours, kind=LineKind.ISSUED
    ).values_list("points", flat=True)
    assert sum(issued) == fill["issued"]
    statements = period.statements.all()
    nets: dict[str, int] = {}
    for statement in statements:
        nets[statement.currency] = nets.get(statement.currency, 0) + statement.net_amount
    margin = {k: v for k, v in period.coalition_margin.items() if v}
    assert {k: v for k, v in nets.items() if v} == margin
    obligations = period.obligations.count()
    assert obligations > 0
    assert period.netted.count() > 0
    assert SettlementPeriod.objects.get(pk=period.pk).status == "closed"

    ratio = close_seconds / base
    rows = [
        (
            f"period_close ({PARTNERS} partners, {entries:,} entries)",
            f"{close_seconds:.2f} s",
            f"plain GROUP BY {base:.2f} s",
            f"{ratio:.2f}",
            f"< {TARGET_SECONDS:.0f} s and <= {TARGET_RATIO:.0f}x",
            met(close_seconds < TARGET_SECONDS and ratio <= TARGET_RATIO),
        ),
        (
            "  of which statements (events + breakage)",
            f"{statements_seconds:.2f} s",
            "-",
            f"{statements_seconds / base:.2f}",
            "-",
            "-",
        ),
        (
            "  of which bilateral obligations",
            f"{obligations_seconds:.2f} s",
            "-",
            f"{obligations_seconds / base:.2f}",
            "-",
            "-",
        ),
        (
            f"plain GROUP BY, {BASELINE_RUNS} runs (min / median / max)",
            " / ".join(f"{t:.2f}" for t in sorted(baseline_times)),
            "-",
            "-",
            "-",
            "-",
        ),
    ]
    print()
    print(f"settlement benchmark on {_server_label()}")
    load_after = os.getloadavg()
    print(
        "machine load average (1/5/15 min) "
        f"{load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f} before, "
        f"{load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} after "
        "(other sessions share these CPUs)"
    )
    print(
        f"{PARTNERS} partners onboarded in {onboard_seconds:.1f}s; journal filled in "
        f"{fill_seconds:.1f}s: {fill['earns']:,} earns via earn_batch "
        f"({fill['earns'] / fill['earn_seconds']:,.0f}/s, {FILL_CLIENTS} clients x {BATCH_SIZE}), "
        f"{fill['burns']:,} burns + {fill['returns']:,} returns in {fill['other_seconds']:.1f}s, "
        f"{fill['expired']:,} points expired in {fill['expiry_seconds']:.1f}s"
    )
    print(
        f"period {period.number}: {statements.count()} statements, {obligations} bilateral "
        f"obligations, {period.netted.count()} netted transfers; "
        f"the plain GROUP BY returns {rows_grouped} rows"
    )
    print_table(rows)
