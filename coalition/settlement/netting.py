"""Who owes whom for cross-brand redemptions, and the fewest payments that settle it.

An issuer owes the redeemer for the issuer's points honoured there (at the
redeemer's reimbursement rate): the bilateral, gross view. Multilateral netting
turns those obligations into at most n - 1 payments per currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import connection

from coalition.settlement.terms import TERMS_RANGES, money, require_terms, terms_by_id

# Redeemed points per (issuer, redeemer): burns and their reversals through their
# own lot movements; captures through the hold's authorisation net of the release.
ATTRIBUTION_SQL = f"""
WITH {TERMS_RANGES},
redemptions AS (
    SELECT t.id, t.partner_id AS redeemer, t.created_at, m.lot_id, -m.points AS points
      FROM public.ledger_transaction t
      JOIN public.ledger_lotmovement m ON m.transaction_id = t.id
     WHERE t.id > %(start)s AND t.id <= %(end)s AND t.kind IN ('burn', 'burn_reversal')
    UNION ALL
    SELECT c.id, c.partner_id, c.created_at, m.lot_id, -m.points
      FROM public.ledger_transaction c
      JOIN public.ledger_transaction h ON h.hold_id = c.hold_id AND h.kind = 'hold'
      JOIN public.ledger_lotmovement m ON m.transaction_id IN (h.id, c.id)
     WHERE c.id > %(start)s AND c.id <= %(end)s AND c.kind = 'capture'
)
SELECT l.issuer_id, r.redeemer, terms.id, sum(r.points)
  FROM redemptions r
  JOIN public.ledger_lot l ON l.id = r.lot_id
  LEFT JOIN terms ON terms.partner_id = r.redeemer
                 AND r.created_at >= terms.starts AND r.created_at < terms.ends
 GROUP BY 1, 2, 3
"""  # noqa: S608 - constant fragments only


@dataclass(frozen=True)
class Obligation:
    currency: str
    debtor: int
    creditor: int
    points: int
    amount: int


def bilateral_obligations(start: int, end: int) -> list[Obligation]:
    """Issuer owes redeemer, for the issuer's points honoured at the redeemer (at the
    redeemer's reimbursement rate): the gross view, before netting."""
    known = terms_by_id()
    with connection.cursor() as cursor:
        cursor.execute(ATTRIBUTION_SQL, {"start": start, "end": end})
        rows = cursor.fetchall()
    totals: dict[tuple[str, int, int], list[int]] = defaultdict(lambda: [0, 0])
    for issuer, redeemer, terms_id, points in rows:
        if issuer == redeemer or not points:
            continue  # own points honoured at home: no one else owes anything
        if issuer is None:
            # Coalition goodwill (a lot with no issuer): no partner owes the redeemer;
            # the coalition pays it on the redeemer's statement (its redeemed line).
            continue
        terms = require_terms(terms_id, redeemer, known)
        entry = totals[(terms.currency, issuer, redeemer)]
        entry[0] += int(points)
        entry[1] += money(int(points), terms.reimbursement_rate)
    return [
        Obligation(currency, debtor, creditor, points, amount)
        for (currency, debtor, creditor), (points, amount) in sorted(totals.items())
        if amount
    ]


def net_obligations(obligations: list[Obligation]) -> list[tuple[str, int, int, int]]:
    """Net every partner's position per currency and settle it with the fewest
    payments: repeatedly match the largest debtor with the largest creditor. Each
    match zeroes at least one of them, so n partners need at most n - 1 payments."""
    positions: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for obligation in obligations:
        positions[obligation.currency][obligation.debtor] -= obligation.amount
        positions[obligation.currency][obligation.creditor] += obligation.amount
    transfers: list[tuple[str, int, int, int]] = []
    for currency, balances in sorted(positions.items()):
        debtors = sorted(((-v, p) for p, v in balances.items() if v < 0), reverse=True)
        creditors = sorted(((v, p) for p, v in balances.items() if v > 0), reverse=True)
        while debtors and creditors:
            owed, debtor = debtors.pop(0)
            due, creditor = creditors.pop(0)
            paid = min(owed, due)
            transfers.append((currency, debtor, creditor, paid))
            if owed > paid:
                debtors.append((owed - paid, debtor))
                debtors.sort(reverse=True)
            if due > paid:
                creditors.append((due - paid, creditor))
                creditors.sort(reverse=True)
    return transfers


def insert_obligations(period_id: int, obligations: list[Obligation]) -> None:
    """One set-based INSERT: a period can have thousands of pairs (3,677 for 100
    partners), and building that many model instances cost ~0.1 s of the close."""
    if not obligations:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO public.settlement_bilateralobligation
                (period_id, currency, debtor_id, creditor_id, points, amount)
            SELECT %s, o.currency, o.debtor, o.creditor, o.points, o.amount
              FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
                   AS o(currency, debtor, creditor, points, amount)
            """,
            [
                period_id,
                [o.currency for o in obligations],
                [o.debtor for o in obligations],
                [o.creditor for o in obligations],
                [o.points for o in obligations],
                [o.amount for o in obligations],
            ],
        )
