"""The coalition's finance report: what the points it issued are worth now, and
what happened to points month by month.

- Liability: per issuer, the points outstanding in unspent lots and the points in
  pending holds (``liability_report``'s statements), the outstanding points valued
  at the issuer's issuance price in force at ``now``; per currency, the totals and
  the deferred revenue, that value times (1 - the expected breakage rate), rounded
  half-even to the minor unit. Coalition goodwill (lots with no issuer) is its own
  row, in points only: no partner sold those points, so there is no issuance price
  to value them at (what they cost the coalition is the reimbursement rate of
  wherever they are spent, unknown until then).
- Flows: per calendar month (UTC), for the twelve months ending with ``now``'s,
  points issued (earns, adjustment credits and coalition goodwill), issued reversed (earn reversals,
  what they took back, and adjustment debits), redeemed (burns and what captures
  captured), redeem reversed (burn reversals) and expired, with the month's
  breakage rate expired / (expired + redeemed).
- The expected breakage rate: expired / (expired + redeemed net of reversals) over
  the whole history, ``liability_report``'s definition; donations, transfers,
  voided and expired holds are neither.

The figures read the ledger as it is (``now`` chooses the terms and the months
shown). A journal header carries the points it moved, except a capture (the
hold's points; ``result`` says how many were captured) and a reversal
(``result`` says how many it took back).

Rollups: scanning the whole journal per report does not scale (a million entries
take most of a second), and what is below a safe watermark never changes (the
journal is append-only). ``finance_rollup_advance`` (the beat runs it every
minute) folds the headers up to ``ledger.selectors.safe_watermark`` into
``FinanceMonthFlow`` (per UTC month and kind) and the lots and their movements
into ``FinanceIssuerOutstanding`` (per issuer: a lot's remaining points are its
points plus its movements, which ``ledger.verification`` checks), moving the
stored watermark in the same database transaction. The report reads the rollups
and, live, the tail above the watermark, in one statement per figure (one
snapshot), and retries if a fold committed between its reading the watermark
and that statement: the figures are exact whether the rollups are current,
stale or empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from coalition.ledger.selectors import safe_watermark
from coalition.settlement.reports import HELD_SQL, LiabilityLine, _liability_line
from coalition.settlement.terms import terms_in_force

MONTHS = 12

ROLLUP = "finance"  # the watermark row's name
FOLD_BATCH = 200_000  # transaction ids folded per database transaction
FOLD_LOCK_KEY = 7_301_015  # pg_advisory_xact_lock key: one folder at a time
RETRIES = 3  # a fold committing between the watermark read and the statement

# What a journal header counts for its kind: the points it moved, or what
# ``result`` says a capture captured and a reversal took back.
HEADER_POINTS = """CASE kind WHEN 'capture' THEN (result->>'captured')::bigint
                     WHEN 'earn_reversal' THEN (result->>'reversed')::bigint
                     WHEN 'burn_reversal' THEN (result->>'reversed')::bigint
                     ELSE points END"""

# The plain computation: points per UTC month and journal kind over the whole
# journal (what the rollup plus the tail must equal).
FLOWS_SQL = f"""
SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS month, kind,
       coalesce(sum({HEADER_POINTS}), 0)::bigint
  FROM public.ledger_transaction
 GROUP BY 1, 2
"""  # noqa: S608 - constant fragments only

# ``FLOW_OF_KIND`` names each kind's flow, and kinds it does not name count for none.
FLOW_OF_KIND = {
    "earn": "issued",
    "adjustment_credit": "issued",
    "goodwill_credit": "issued",
    "earn_reversal": "issued_reversed",
    "adjustment_debit": "issued_reversed",
    "burn": "redeemed",
    "capture": "redeemed",
    "burn_reversal": "redeem_reversed",
    "expiry": "expired",
}

OUTSTANDING_SQL = """
SELECT issuer_id, sum(remaining) FROM public.ledger_lot
 WHERE remaining > 0 GROUP BY issuer_id
"""

WATERMARK_SQL = """
SELECT coalesce((SELECT transaction_id FROM public.settlement_financerollupwatermark
                  WHERE name = %(name)s), 0) AS at
"""

# The rollup's rows count only if the watermark read in the same statement (the
# same snapshot) is the one the tail starts after; the first column says which
# watermark the statement saw, on a row of its own when nothing else is there.
ROLLED_FLOWS_SQL = f"""
WITH wm AS ({WATERMARK_SQL}),
parts AS (
    SELECT month, kind, points FROM public.settlement_financemonthflow
     WHERE (SELECT at FROM wm) = %(w)s
    UNION ALL
    SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, kind,
           coalesce(sum({HEADER_POINTS}), 0)::bigint
      FROM public.ledger_transaction WHERE id > %(w)s
     GROUP BY 1, 2
)
SELECT wm.at, g.month, g.kind, g.points
  FROM wm LEFT JOIN (SELECT month, kind, sum(points)::bigint AS points
                       FROM parts GROUP BY 1, 2) g ON true
"""  # noqa: S608 - constant fragments only

ROLLED_OUTSTANDING_SQL = f"""
WITH wm AS ({WATERMARK_SQL}),
parts AS (
    SELECT issuer_id, points FROM public.settlement_financeissueroutstanding
     WHERE (SELECT at FROM wm) = %(w)s
    UNION ALL
    SELECT issuer_id, points FROM public.ledger_lot WHERE transaction_id > %(w)s
    UNION ALL
    SELECT l.issuer_id, m.points FROM public.ledger_lotmovement m
      JOIN public.ledger_lot l ON l.id = m.lot_id
     WHERE m.transaction_id > %(w)s
)
SELECT wm.at, g.issuer_id, g.points
  FROM wm LEFT JOIN (SELECT issuer_id, sum(points)::bigint AS points FROM parts
                      GROUP BY 1 HAVING sum(points) <> 0) g ON true
"""  # noqa: S608 - constant fragments only

FOLD_FLOWS_SQL = f"""
INSERT INTO public.settlement_financemonthflow AS f (month, kind, points, transactions)
SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, kind,
       coalesce(sum({HEADER_POINTS}), 0)::bigint, count(*)
  FROM public.ledger_transaction
 WHERE id > %(lo)s AND id <= %(hi)s
 GROUP BY 1, 2
ON CONFLICT (month, kind) DO UPDATE
   SET points = f.points + excluded.points, transactions = f.transactions + excluded.transactions
"""  # noqa: S608 - constant fragments only

FOLD_OUTSTANDING_SQL = """
INSERT INTO public.settlement_financeissueroutstanding AS o (issuer_id, points)
SELECT issuer_id, sum(points)::bigint FROM (
    SELECT issuer_id, points FROM public.ledger_lot
     WHERE transaction_id > %(lo)s AND transaction_id <= %(hi)s
    UNION ALL
    SELECT l.issuer_id, m.points FROM public.ledger_lotmovement m
      JOIN public.ledger_lot l ON l.id = m.lot_id
     WHERE m.transaction_id > %(lo)s AND m.transaction_id <= %(hi)s
) moved
 GROUP BY 1
ON CONFLICT (issuer_id) DO UPDATE SET points = o.points + excluded.points
"""


def finance_rollup_advance(*, batch: int = FOLD_BATCH, upto: int | None = None) -> int:
    """Fold every committed transaction not yet folded (up to ``upto`` if given,
    never past the safe watermark) into the rollups, ``batch`` ids per database
    transaction with the new watermark: a crash loses nothing and counts nothing
    twice. Returns the watermark reached."""
    target = safe_watermark()
    if upto is not None:
        target = min(target, upto)
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FOLD_LOCK_KEY])
            cursor.execute(
                "INSERT INTO public.settlement_financerollupwatermark "
                "(name, transaction_id, updated_at) VALUES (%s, 0, now()) "
                "ON CONFLICT (name) DO NOTHING",
                [ROLLUP],
            )
            cursor.execute(
                "SELECT transaction_id FROM public.settlement_financerollupwatermark "
                "WHERE name = %s FOR UPDATE",
                [ROLLUP],
            )
            (done,) = cursor.fetchone()
            if done >= target:
                return int(done)
            hi = min(target, done + batch)
            cursor.execute(FOLD_FLOWS_SQL, {"lo": done, "hi": hi})
            cursor.execute(FOLD_OUTSTANDING_SQL, {"lo": done, "hi": hi})
            cursor.execute(
                "UPDATE public.settlement_financerollupwatermark "
                "SET transaction_id = %s, updated_at = now() WHERE name = %s",
                [hi, ROLLUP],
            )


def finance_rollup_rebuild() -> int:
    """Forget the rollups and fold the whole journal again."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FOLD_LOCK_KEY])
        cursor.execute("DELETE FROM public.settlement_financemonthflow")
        cursor.execute("DELETE FROM public.settlement_financeissueroutstanding")
        cursor.execute(
            "DELETE FROM public.settlement_financerollupwatermark WHERE name = %s", [ROLLUP]
        )
    return finance_rollup_advance()


def _rolled_up(cursor: Any, sql: str) -> list[tuple[Any, ...]]:
    """``sql``'s rows (the watermark column dropped) for the watermark it saw:
    read the stored watermark, run the statement with it, and again if a fold
    moved it in between; after ``RETRIES`` moves, the whole journal live."""
    cursor.execute(WATERMARK_SQL, {"name": ROLLUP})
    (watermark,) = cursor.fetchone()
    for _ in range(RETRIES):
        cursor.execute(sql, {"name": ROLLUP, "w": watermark})
        rows = cursor.fetchall()
        seen = int(rows[0][0])
        if seen == watermark:
            return [row[1:] for row in rows if row[-1] is not None]
        watermark = seen
    cursor.execute(sql, {"name": ROLLUP, "w": -1})  # no rollup row counts
    return [row[1:] for row in cursor.fetchall() if row[-1] is not None]


FLOWS = ("issued", "issued_reversed", "redeemed", "redeem_reversed", "expired")


@dataclass(frozen=True)
class CurrencyLiability:
    currency: str
    outstanding_points: int
    held_points: int
    value: int  # minor units, at each issuer's current issuance price
    deferred_revenue: int  # value x (1 - expected breakage rate), half-even


@dataclass(frozen=True)
class MonthFlows:
    month: date  # the first day of the UTC month
    issued: int
    issued_reversed: int
    redeemed: int
    redeem_reversed: int
    expired: int
    breakage_rate: Decimal  # expired / (expired + redeemed); 0 without either


@dataclass(frozen=True)
class FinanceReport:
    as_of: datetime
    lines: tuple[LiabilityLine, ...]  # per issuer, by id
    currencies: tuple[CurrencyLiability, ...]  # by currency code
    unvalued_points: int  # outstanding points of issuers without terms (no value)
    months: tuple[MonthFlows, ...]  # the last twelve, oldest first
    expired_points: int  # over the whole history
    redeemed_points: int  # over the whole history, net of reversals
    expected_breakage_rate: Decimal
    # Coalition goodwill (lots with no issuer): outstanding and in pending holds,
    # in points only (not valued, not in ``lines`` or ``currencies``).
    goodwill_points: int = 0
    goodwill_held_points: int = 0


def rate(part: int, whole: int) -> Decimal:
    """``part / whole`` to four places (half even); 0 when ``whole`` is 0."""
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else Decimal(0)


def deferred(value: int, breakage_rate: Decimal) -> int:
    """The revenue still deferred on ``value`` (minor units) when ``breakage_rate``
    of the points are expected never to be redeemed, half-even to the minor unit."""
    return int((Decimal(value) * (1 - breakage_rate)).to_integral_value(ROUND_HALF_EVEN))


def month_starts(now: datetime, count: int = MONTHS) -> list[date]:
    """The first days of the ``count`` UTC months ending with ``now``'s, oldest first."""
    at = now.astimezone(UTC)
    index = at.year * 12 + at.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def _issuer(issuer: Any) -> int | None:
    return None if issuer is None else int(issuer)


def finance_report(now: datetime | None = None) -> FinanceReport:
    now = now or timezone.now()
    current = terms_in_force(now)
    with connection.cursor() as cursor:
        outstanding = {
            _issuer(issuer): int(points)
            for issuer, points in _rolled_up(cursor, ROLLED_OUTSTANDING_SQL)
        }
        cursor.execute(HELD_SQL, {"issuer": None})
        held = {_issuer(issuer): int(points) for issuer, points in cursor.fetchall()}
        goodwill, goodwill_held = outstanding.pop(None, 0), held.pop(None, 0)
        flows: dict[tuple[date, str], int] = {}
        for month, kind, points in _rolled_up(cursor, ROLLED_FLOWS_SQL):
            flow = FLOW_OF_KIND.get(kind)
            if flow is not None:
                key = (month, flow)
                flows[key] = flows.get(key, 0) + int(points)

    def total(flow: str) -> int:
        return sum(points for (_, name), points in flows.items() if name == flow)

    expired = total("expired")
    redeemed = total("redeemed") - total("redeem_reversed")
    expected = rate(expired, expired + redeemed)

    # coalition goodwill (no issuer) was taken out above: it is reported apart
    lines = tuple(
        _liability_line(
            issuer, outstanding.get(issuer, 0), current.get(issuer), held.get(issuer, 0)
        )
        for issuer in sorted(
            issuer for issuer in set(outstanding) | set(held) if issuer is not None
        )
    )
    by_currency: dict[str, list[LiabilityLine]] = {}
    for line in lines:
        if line.currency is not None:
            by_currency.setdefault(line.currency, []).append(line)
    currencies = []
    for currency, group in sorted(by_currency.items()):
        value = sum(line.value or 0 for line in group)
        currencies.append(
            CurrencyLiability(
                currency,
                sum(line.outstanding_points for line in group),
                sum(line.held_points for line in group),
                value,
                deferred(value, expected),
            )
        )

    months = []
    for month in month_starts(now):
        figures = {flow: flows.get((month, flow), 0) for flow in FLOWS}
        months.append(
            MonthFlows(
                month,
                **figures,
                breakage_rate=rate(figures["expired"], figures["expired"] + figures["redeemed"]),
            )
        )
    return FinanceReport(
        as_of=now,
        lines=lines,
        currencies=tuple(currencies),
        unvalued_points=sum(line.outstanding_points for line in lines if line.currency is None),
        months=tuple(months),
        expired_points=expired,
        redeemed_points=redeemed,
        expected_breakage_rate=expected,
        goodwill_points=goodwill,
        goodwill_held_points=goodwill_held,
    )
