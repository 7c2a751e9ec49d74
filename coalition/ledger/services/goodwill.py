"""Coalition goodwill: points the coalition itself gives a member (operator
support, four eyes above a threshold in ``coalition.goodwill``).

Posted like an earn with the coalition in the partner's place,
``goodwill -N, wallet +N``, and a new lot with no issuer (``issuer_id`` NULL):
no partner sold these points, so no partner pays for them. Redeemed at partner X
they are still reimbursed to X on its redeemed line (settlement is per redeemer);
netting has no issuer to charge them to and expiry gives no partner a breakage
share (see ``coalition.settlement``). Credits only: a goodwill gift is not taken
back (a mistaken one is left to expire or corrected by hand with a reason).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coalition.ledger.models import AccountKind, TransactionKind
from coalition.ledger.services.accounts import coalition_account_id
from coalition.ledger.services.earning import require_valid_expiry
from coalition.ledger.services.posting import (
    Posting,
    credit_with_new_lot,
    lock_wallets,
    require_positive,
    run_idempotent,
)
from loyalty_kernel.idempotency import IdempotencyKey


def goodwill_credit(
    *,
    member_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    expires_at: datetime | None = None,
    memo: str = "",
    now: datetime | None = None,
) -> Posting:
    """Give ``points`` (> 0) of coalition goodwill to an active member's wallet, as a
    lot with no issuer expiring at ``expires_at`` (after ``now``, or None).
    Idempotent: the same key and request replays the posting."""
    require_positive(points)
    require_valid_expiry(expires_at, now)
    payload: dict[str, Any] = {
        "member": member_id,
        "points": points,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "memo": memo,
    }

    def post(digest: str) -> Posting:
        goodwill = coalition_account_id(AccountKind.GOODWILL)
        wallet = lock_wallets([member_id], require_active=True)[member_id]
        return credit_with_new_lot(
            kind=TransactionKind.GOODWILL_CREDIT, wallet=wallet, source_account=goodwill,
            issuer_id=None, partner_id=None, points=points, expires_at=expires_at,
            idem=idempotency, digest=digest, memo=memo,
        )  # fmt: skip

    return run_idempotent(idempotency, "goodwill_credit", payload, post)
