"""Reports over the ledger and the terms: a partner's live position in the open
period, the coalition's points liability (deferred revenue) and breakage, and the
text the commands print for a period's statements and payouts.

Points in pending holds are neither outstanding (they left the wallet's lots) nor
redeemed (nothing is captured yet): the liability shows them as their own figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from coalition.settlement.models import SettlementPeriod, SettlementTerms, Statement
from coalition.settlement.periods import period_due_at, period_open
from coalition.settlement.statements import (
    DraftStatement,
    add_fixed_fees,
    compute_statements,
    fixed_fees_due,
)
from coalition.settlement.stripe.gateway import PayoutRun
from coalition.settlement.terms import money, terms_in_force
from loyalty_kernel import clock
from loyalty_kernel.money import format_money
from tenants.partners.models import Partner


def live_position(partner: Partner, *, now: datetime | None = None) -> DraftStatement:
    """The partner's running statement for the open period (not locked: a view),
    with the fixed fees it will carry when it closes on time (or now, if late)."""
    now = now or clock.now()
    period = period_open()
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM public.ledger_transaction")
        (end,) = cursor.fetchone()
    drafts, margin = compute_statements(period.start_watermark, int(end), partner_id=partner.pk)
    closes_at = max(now, period_due_at(period))
    add_fixed_fees(drafts, margin, fixed_fees_due(until=closes_at, partner_id=partner.pk))
    return drafts.get(partner.pk, DraftStatement(partner.pk, partner.default_currency))


@dataclass(frozen=True)
class LiabilityLine:
    issuer_id: int
    outstanding_points: int
    currency: str | None
    value: int | None  # outstanding points at the issuer's current issuance price
    held_points: int = 0  # the issuer's points in pending holds (not in ``value``)


@dataclass(frozen=True)
class LiabilityReport:
    lines: list[LiabilityLine]
    outstanding_points: int
    expired_points: int
    redeemed_points: int
    breakage_rate: Decimal  # expired / (expired + redeemed), from history
    held_points: int = 0  # in pending holds: neither outstanding nor redeemed yet
    # Coalition goodwill (lots with no issuer), not in ``lines`` (no issuer, no
    # price) but in the totals above.
    goodwill_points: int = 0
    goodwill_held_points: int = 0


# Points of pending holds per issuer, from the lots the authorisations took them
# from (a hold's lot movements are negative).
HELD_SQL = """
SELECT l.issuer_id, -sum(m.points)
  FROM public.ledger_hold h
  JOIN public.ledger_transaction t ON t.hold_id = h.id AND t.kind = 'hold'
  JOIN public.ledger_lotmovement m ON m.transaction_id = t.id
  JOIN public.ledger_lot l ON l.id = m.lot_id
 WHERE h.status = 'pending' AND (%(issuer)s::bigint IS NULL OR l.issuer_id = %(issuer)s::bigint)
 GROUP BY 1
"""


def _liability_line(
    issuer_id: int, points: int, terms: SettlementTerms | None, held: int = 0
) -> LiabilityLine:
    """Outstanding points valued at the issuer's current issuance price (no
    value without terms: nothing says what the points are worth)."""
    return LiabilityLine(
        issuer_id,
        points,
        terms.currency if terms else None,
        money(points, terms.issuance_price) if terms else None,
        held,
    )


def issuer_liability(*, partner_id: int, now: datetime | None = None) -> LiabilityLine:
    """The share of the coalition's liability one partner issued: its points still
    in members' wallets (unspent, unexpired lots), valued like ``liability_report``
    values that partner's line."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(remaining), 0) FROM public.ledger_lot
             WHERE remaining > 0 AND issuer_id = %s
            """,
            [partner_id],
        )
        (points,) = cursor.fetchone()
        cursor.execute(HELD_SQL, {"issuer": partner_id})
        held = sum(int(row[1]) for row in cursor.fetchall())
    terms = terms_in_force(now, partner_id=partner_id).get(partner_id)
    return _liability_line(partner_id, int(points), terms, held)


def liability_report(*, now: datetime | None = None) -> LiabilityReport:
    """Deferred revenue: points outstanding per issuer and their value, expired
    points, and the breakage rate estimated from what happened to points so far."""
    now = now or timezone.now()
    current = terms_in_force(now)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT issuer_id, sum(remaining) FROM public.ledger_lot
             WHERE remaining > 0 GROUP BY issuer_id ORDER BY issuer_id
            """
        )
        outstanding = dict(cursor.fetchall())
        cursor.execute(HELD_SQL, {"issuer": None})
        held = {issuer: int(points) for issuer, points in cursor.fetchall()}
        goodwill, goodwill_held = int(outstanding.pop(None, 0)), held.pop(None, 0)
        cursor.execute(
            """
            SELECT t.kind, -sum(m.points) FROM public.ledger_lotmovement m
              JOIN public.ledger_transaction t ON t.id = m.transaction_id
             WHERE t.kind IN ('expiry', 'burn', 'capture', 'burn_reversal')
                OR (t.kind = 'hold' AND EXISTS (
                        SELECT 1 FROM public.ledger_hold h
                         WHERE h.id = t.hold_id AND h.status = 'captured'))
             GROUP BY t.kind
            """
        )
        moved = dict(cursor.fetchall())
    expired = int(moved.get("expiry", 0))
    # held points count as redeemed only once captured: a captured hold's
    # authorisation minus the release at capture is what was captured; pending,
    # voided and expired holds redeem nothing
    redeemed = int(moved.get("burn", 0)) + int(moved.get("burn_reversal", 0))
    redeemed += int(moved.get("hold", 0)) + int(moved.get("capture", 0))
    lines = [
        _liability_line(
            issuer_id, int(outstanding.get(issuer_id, 0)), current.get(issuer_id),
            held.get(issuer_id, 0),
        )
        for issuer_id in sorted(set(outstanding) | set(held))
    ]  # fmt: skip
    resolved = expired + redeemed
    rate = (
        (Decimal(expired) / Decimal(resolved)).quantize(Decimal("0.0001"))
        if resolved
        else Decimal(0)
    )
    return LiabilityReport(
        lines,
        sum(line.outstanding_points for line in lines) + goodwill,
        expired,
        redeemed,
        rate,
        sum(line.held_points for line in lines) + goodwill_held,
        goodwill,
        goodwill_held,
    )


def _recipient(statement: Statement) -> str:
    if statement.partner is not None:
        return statement.partner.name
    return f"{statement.charity.name} (charity)" if statement.charity else "?"


def statement_report_lines(period: SettlementPeriod) -> list[str]:
    """One line per statement (who pays or receives what), then the margin."""
    statements = sorted(period.statements.select_related("partner", "charity"), key=_recipient)
    lines = []
    for statement in statements:
        direction = "pays" if statement.net_amount > 0 else "receives"
        amount = format_money(abs(statement.net_amount), statement.currency)
        lines.append(
            f"  {_recipient(statement):<32} {direction:>8} {amount:>16}  "
            f"[{statement.payment_status}]"
        )
    for currency, margin in sorted(period.coalition_margin.items()):
        lines.append(f"  coalition margin {format_money(margin, currency)}")
    return lines


def payout_report_lines(run: PayoutRun) -> list[str]:
    """One line per payout of a run: paid (with Stripe's object), refused (with
    Stripe's code and message, and when the job retries) or waiting."""
    if not run.outcomes:
        return ["Payouts: nothing to pay."]
    statements = Statement.objects.select_related("partner", "charity").in_bulk(
        [outcome.statement_id for outcome in run.outcomes]
    )
    lines = ["Payouts:"]
    for outcome in run.outcomes:
        statement = statements[outcome.statement_id]
        amount = format_money(abs(statement.net_amount), statement.currency)
        head = f"  {_recipient(statement):<32} {amount:>16}"
        if outcome.stripe_object_id:
            lines.append(f"{head}  {outcome.status} ({outcome.stripe_object_id})")
        elif outcome.error is not None and outcome.failed:
            retry = (
                f" (next try after {outcome.retry_at:%Y-%m-%d %H:%M} UTC)"
                if outcome.retry_at
                else " (no more automatic tries)"
            )
            lines.append(
                f"{head}  FAILED {statement.payout_error_code}: "
                f"{statement.payout_error_message}{retry}"
            )
        else:
            reason = outcome.error.message if outcome.error else outcome.status
            lines.append(f"{head}  waiting: {reason}")
    return lines
