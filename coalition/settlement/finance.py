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
shown). The flows are one grouped scan of the journal headers: a header carries
the points it moved, except a capture (the hold's points; ``result`` says how
many were captured) and a reversal (``result`` says how many it took back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection
from django.utils import timezone

from coalition.settlement.reports import HELD_SQL, LiabilityLine, _liability_line
from coalition.settlement.terms import terms_in_force

MONTHS = 12

# Points per UTC month and journal kind, over the whole journal (a few dozen rows);
# ``FLOW_OF_KIND`` names each kind's flow, and kinds it does not name count for none.
# Grouping by the raw kind keeps the per-row work to what the plain aggregate does
# (no filter, no flow CASE in the group key): the scan is the report's main cost.
FLOWS_SQL = """
SELECT date_trunc('month', created_at AT TIME ZONE 'UTC') AS month, kind,
       sum(CASE kind WHEN 'capture' THEN (result->>'captured')::bigint
                     WHEN 'earn_reversal' THEN (result->>'reversed')::bigint
                     WHEN 'burn_reversal' THEN (result->>'reversed')::bigint
                     ELSE points END)
  FROM public.ledger_transaction
 GROUP BY 1, 2
"""

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


def finance_report(now: datetime | None = None) -> FinanceReport:
    now = now or timezone.now()
    current = terms_in_force(now)
    with connection.cursor() as cursor:
        cursor.execute(OUTSTANDING_SQL)
        outstanding = {issuer: int(points) for issuer, points in cursor.fetchall()}
        cursor.execute(HELD_SQL, {"issuer": None})
        held = {issuer: int(points) for issuer, points in cursor.fetchall()}
        goodwill, goodwill_held = outstanding.pop(None, 0), held.pop(None, 0)
        cursor.execute(FLOWS_SQL)
        flows: dict[tuple[date, str], int] = {}
        for month, kind, points in cursor.fetchall():
            flow = FLOW_OF_KIND.get(kind)
            if flow is not None:
                key = (month.date(), flow)
                flows[key] = flows.get(key, 0) + int(points)

    def total(flow: str) -> int:
        return sum(points for (_, name), points in flows.items() if name == flow)

    expired = total("expired")
    redeemed = total("redeemed") - total("redeem_reversed")
    expected = rate(expired, expired + redeemed)

    lines = tuple(
        _liability_line(
            issuer, outstanding.get(issuer, 0), current.get(issuer), held.get(issuer, 0)
        )
        for issuer in sorted(set(outstanding) | set(held))
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
