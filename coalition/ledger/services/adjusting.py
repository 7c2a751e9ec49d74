"""Adjustments: a partner adds points to a member's wallet (goodwill or a
correction) or takes points back from it (a correction).

A credit is posted like an earn, ``issuance(partner) -N, wallet +N``, with a new
lot issued by the partner; a debit like the return of an earn, ``wallet -N,
issuance(partner) +N``, taking the points out of the lots the partner itself
issued (soonest expiry first), never out of another partner's lots and never below
zero. Settlement values both at the partner's issuance price
(``coalition.settlement.statements``): a debit taking another issuer's points would
credit the adjusting partner at its own price for points it never sold, and leave
their real issuer with no line at all, so it is refused instead.
Caps, reasons and the audit trail are the ``coalition.adjustments`` domain's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coalition.ledger.errors import AmountNotPositive, InsufficientPoints
from coalition.ledger.models import AccountKind, TransactionKind
from coalition.ledger.services.accounts import partner_account_id, require_active_partner
from coalition.ledger.services.earning import require_valid_expiry
from coalition.ledger.services.posting import (
    LotTake,
    Posting,
    adjust_wallets,
    consumption_result,
    credit_with_new_lot,
    insert_entries,
    insert_header,
    lock_wallets,
    move_lots,
    run_idempotent,
)
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey

ADJUSTMENT_KINDS = (TransactionKind.ADJUSTMENT_CREDIT, TransactionKind.ADJUSTMENT_DEBIT)


def adjust(
    *,
    member_id: int,
    partner_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    expires_at: datetime | None = None,
    memo: str = "",
    now: datetime | None = None,
) -> Posting:
    """Add ``points`` (> 0) to an active member's wallet, or take ``-points``
    (< 0) back from it, on behalf of an active partner.

    A credit becomes a lot issued by the partner that expires at ``expires_at``
    (which must lie after ``now``); a debit of more points than the member holds
    in lots the partner issued raises ``InsufficientPoints`` and posts nothing.
    Idempotent like every operation: the same key and request replays the posting.
    """
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise AmountNotPositive(f"an adjustment moves a whole number of points, got {points!r}")
    if points > 0:
        require_valid_expiry(expires_at, now)
    payload: dict[str, Any] = {
        "member": member_id,
        "partner": partner_id,
        "points": points,
        "expires_at": expires_at.isoformat() if expires_at and points > 0 else None,
        "memo": memo,
    }

    def post(digest: str) -> Posting:
        issuance = partner_account_id(partner_id, AccountKind.ISSUANCE)
        wallet = lock_wallets([member_id], require_active=True)[member_id]
        require_active_partner(partner_id)
        size = abs(points)
        if points > 0:
            return credit_with_new_lot(
                kind=TransactionKind.ADJUSTMENT_CREDIT, wallet=wallet, source_account=issuance,
                issuer_id=partner_id, partner_id=partner_id, points=size,
                expires_at=expires_at, idem=idempotency, digest=digest, memo=memo,
            )  # fmt: skip
        if wallet.balance < size:
            raise InsufficientPoints(f"the member has {wallet.balance} points, {size} to take back")
        plan = _plan_taking_back(member_id, partner_id, size)
        kind = TransactionKind.ADJUSTMENT_DEBIT
        result = {"balance_after": wallet.balance - size, "consumed": consumption_result(plan)}
        tx_id, _ = insert_header(
            kind=kind, partner_id=partner_id, member_id=member_id, points=size,
            idem=idempotency, digest=digest, result=result, memo=memo,
        )  # fmt: skip
        move_lots(tx_id, [(lot, -taken) for lot, taken, _ in plan])
        insert_entries(tx_id, [(wallet.account_id, -size), (issuance, size)])
        adjust_wallets({wallet.account_id: -size})
        return Posting(tx_id, kind, size, result)

    return run_idempotent(idempotency, "adjust", payload, post)


def _plan_taking_back(member_id: int, partner_id: int, points: int) -> list[LotTake]:
    """(lot, points taken, issuer) from the lots the adjusting partner issued, soonest
    expiry first: what it issued is all it may correct. The caller holds the wallet
    lock, which guards the member's lots."""
    rows = driver_sql.fetchall(
        """
        SELECT id, remaining, issuer_id FROM public.ledger_lot
         WHERE member_id = %s AND issuer_id = %s AND remaining > 0
         ORDER BY expires_at ASC NULLS LAST, earned_at, id
        """,
        [member_id, partner_id],
    )
    plan: list[LotTake] = []
    needed = points
    for lot_id, remaining, issuer_id in rows:
        if needed == 0:
            break
        take = min(needed, int(remaining))
        plan.append((int(lot_id), take, int(issuer_id)))
        needed -= take
    if needed:
        raise InsufficientPoints(
            f"the member holds {points - needed} points issued by partner {partner_id}, "
            f"{points} to take back"
        )
    return plan
