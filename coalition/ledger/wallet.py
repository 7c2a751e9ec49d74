"""A member's wallet at a glance, for the member portal's home: the balance, what
each issuing partner's points make of it, and what expires soon. Two queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from coalition.ledger.selectors import balance, lots

EXPIRY_HORIZONS = (30, 60, 90)  # days


@dataclass(frozen=True)
class IssuerShare:
    issuer_id: int
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
    expiring_lots: list[ExpiringLot]  # within the longest horizon, soonest first


def member_wallet(member_id: int, *, now: datetime) -> WalletSummary:
    """The balance with its split by issuing partner (unspent lots) and the points
    expiring within 30, 60 and 90 days of ``now``."""
    total = balance(member_id)
    open_lots = lots(member_id)
    shares: dict[int, IssuerShare] = {}
    for lot in open_lots:
        held = shares.get(lot.issuer_id)
        shares[lot.issuer_id] = IssuerShare(
            lot.issuer_id, lot.issuer_name, (held.points if held else 0) + lot.remaining
        )
    soon = [
        lot
        for lot in open_lots
        if lot.expires_at is not None
        and lot.expires_at <= now + timedelta(days=max(EXPIRY_HORIZONS))
    ]
    expiring = []
    for days in EXPIRY_HORIZONS:
        within = [lot for lot in soon if lot.expires_at <= now + timedelta(days=days)]  # type: ignore[operator]
        expiring.append(
            ExpiringPoints(
                days,
                sum(lot.remaining for lot in within),
                min((lot.expires_at.date() for lot in within), default=None),  # type: ignore[union-attr]
            )
        )
    return WalletSummary(
        balance=total,
        by_issuer=sorted(shares.values(), key=lambda share: (-share.points, share.issuer_name)),
        expiring=expiring,
        expiring_lots=[
            ExpiringLot(lot.issuer_name, lot.remaining, lot.expires_at.date())  # type: ignore[union-attr]
            for lot in soon
        ],
    )
