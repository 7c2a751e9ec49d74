"""A member's wallet at a glance, for the member portal's home: the balance, what
each issuing partner's points make of it, and what expires soon. Two queries,
whatever the number of the member's lots (the sums are made in the database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection

from coalition.ledger.selectors import balance, goodwill_issuer_name

EXPIRY_HORIZONS = (30, 60, 90)  # days


@dataclass(frozen=True)
class IssuerShare:
    issuer_id: int | None  # None: coalition goodwill
    issuer_name: str
    points: int


@dataclass(frozen=True)
class ExpiringPoints:
    within_days: int
    points: int  # expiring within that many days (cumulative)
    first_date: date | None  # the soonest expiry date among them


@dataclass(frozen=True)
class ExpiringLot:
    issuer_name: str
    points: int
    expires_on: date


@dataclass(frozen=True)
class WalletSummary:
    balance: int
    by_issuer: list[IssuerShare]  # largest first
    expiring: list[ExpiringPoints]  # one per EXPIRY_HORIZONS entry
    # within the longest horizon, soonest first: a row per day and partner
    expiring_lots: list[ExpiringLot]


# One statement over the member's unspent lots, in two groupings: per partner (the
# split of the balance: ``by_day`` false), and per (day, partner) for what expires
# within the longest horizon (``by_day`` true; lots expiring later or never fall
# into one row per partner with no day, dropped), with what of each falls within
# each horizon, to the second. Rows are bounded by days and partners, not by the
# member's lots: thousands of lots make at most 91 days x partners rows.
_WITHIN = ", ".join(
    f"sum(l.remaining) FILTER (WHERE l.expires_at <= %(h{n})s)" for n in range(len(EXPIRY_HORIZONS))
)
_WALLET_SQL = f"""
SELECT GROUPING(day) = 0 AS by_day, day, l.issuer_id, p.name, sum(l.remaining), {_WITHIN}
  FROM public.ledger_lot l
  LEFT JOIN public.partners_partner p ON p.id = l.issuer_id
  CROSS JOIN LATERAL (
      SELECT CASE WHEN l.expires_at <= %(h{len(EXPIRY_HORIZONS) - 1})s
                  THEN (l.expires_at AT TIME ZONE 'UTC')::date END AS day) d
 WHERE l.member_id = %(member)s AND l.remaining > 0
 GROUP BY GROUPING SETS ((l.issuer_id, p.name), (day, l.issuer_id, p.name))
 ORDER BY by_day, day, p.name
"""  # noqa: S608 - built from constants only


def member_wallet(member_id: int, *, now: datetime) -> WalletSummary:
    """The balance with its split by issuing partner (unspent lots) and the points
    expiring within 30, 60 and 90 days of ``now``. Two statements, summed in the
    database: their cost does not grow with the number of the member's lots."""
    total = balance(member_id)
    horizons = {f"h{n}": now + timedelta(days=days) for n, days in enumerate(EXPIRY_HORIZONS)}
    with connection.cursor() as cursor:
        cursor.execute(_WALLET_SQL, {"member": member_id, **horizons})
        rows = cursor.fetchall()
    rows = [(*r[:3], r[3] if r[2] is not None else goodwill_issuer_name(), *r[4:]) for r in rows]
    shares = [IssuerShare(r[2], r[3], int(r[4])) for r in rows if not r[0]]
    days = [r for r in rows if r[0] and r[1] is not None]
    expiring = []
    for n, within_days in enumerate(EXPIRY_HORIZONS):
        within = [(r[1], int(r[5 + n])) for r in days if r[5 + n]]
        expiring.append(
            ExpiringPoints(
                within_days,
                sum(points for _, points in within),
                min((day for day, _ in within), default=None),
            )
        )
    return WalletSummary(
        balance=total,
        by_issuer=sorted(shares, key=lambda share: (-share.points, share.issuer_name)),
        expiring=expiring,
        expiring_lots=[ExpiringLot(r[3], int(r[4]), r[1]) for r in days],
    )
