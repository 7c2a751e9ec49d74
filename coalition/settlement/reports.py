"""Reports over the ledger and the terms: a partner's live position in the open
period, and the coalition's points liability (deferred revenue) and breakage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from coalition.settlement.models import SettlementTerms
from coalition.settlement.periods import period_open
from coalition.settlement.statements import DraftStatement, compute_statements
from coalition.settlement.terms import money, terms_in_force
from tenants.partners.models import Partner


def live_position(partner: Partner) -> DraftStatement:
    """The partner's running statement for the open period (not locked: a view)."""
    period = period_open()
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM public.ledger_transaction")
        (end,) = cursor.fetchone()
    drafts, _ = compute_statements(period.start_watermark, int(end), partner_id=partner.pk)
    return drafts.get(partner.pk, DraftStatement(partner.pk, partner.default_currency))


@dataclass(frozen=True)
class LiabilityLine:
    issuer_id: int
    outstanding_points: int
    currency: str | None
    value: int | None  # outstanding points at the issuer's current issuance price


@dataclass(frozen=True)
class LiabilityReport:
    lines: list[LiabilityLine]
    outstanding_points: int
    expired_points: int
    redeemed_points: int
    breakage_rate: Decimal  # expired / (expired + redeemed), from history


def _liability_line(issuer_id: int, points: int, terms: SettlementTerms | None) -> LiabilityLine:
    """Outstanding points valued at the issuer's current issuance price (no
    value without terms: nothing says what the points are worth)."""
    return LiabilityLine(
        issuer_id,
        points,
        terms.currency if terms else None,
        money(points, terms.issuance_price) if terms else None,
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
    terms = terms_in_force(now, partner_id=partner_id).get(partner_id)
    return _liability_line(partner_id, int(points), terms)


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
        outstanding = cursor.fetchall()
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
        _liability_line(issuer_id, int(points), current.get(issuer_id))
        for issuer_id, points in outstanding
    ]
    resolved = expired + redeemed
    rate = (
        (Decimal(expired) / Decimal(resolved)).quantize(Decimal("0.0001"))
        if resolved
        else Decimal(0)
    )
    return LiabilityReport(
        lines, sum(line.outstanding_points for line in lines), expired, redeemed, rate
    )
