"""Lot expiry: the remaining points of expired lots (or, for inactivity, of every
lot of a member) move to the coalition's breakage account, one transaction per
member under the member's wallet lock."""

from __future__ import annotations

from datetime import datetime

from coalition.ledger.models import AccountKind, TransactionKind
from coalition.ledger.services.accounts import coalition_account_id
from coalition.ledger.services.posting import (
    Posting,
    adjust_wallets,
    insert_entries,
    insert_header,
    lock_wallets,
    move_lots,
    run_idempotent,
)
from loyalty_kernel import clock, driver_sql


def lots_expire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Move the remaining points of expired lots to the breakage account.

    One transaction per member, under the member's wallet lock, re-reading the
    lots after locking: running it twice, or twice at once, expires nothing more.
    Returns the number of points expired.
    """
    now = now or clock.now()
    members = driver_sql.fetchall(
        """
        SELECT DISTINCT member_id FROM public.ledger_lot
         WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= %s
         LIMIT %s
        """,
        [now, limit],
    )
    return sum(_expire_member_lots(int(row[0]), now, every_lot=False) for row in members)


def member_lots_expire(*, member_id: int, now: datetime | None = None) -> int:
    """Expire every remaining point of a member (inactivity expiry)."""
    return _expire_member_lots(member_id, now or clock.now(), every_lot=True)


def _expire_member_lots(member_id: int, now: datetime, *, every_lot: bool) -> int:
    """Expire one member's expired lots (or, with ``every_lot``, all of them, for
    inactivity) into breakage, under the wallet lock. Returns points expired."""
    breakage = coalition_account_id(AccountKind.BREAKAGE)
    condition = "" if every_lot else "AND expires_at IS NOT NULL AND expires_at <= %s"

    def post(digest: str) -> Posting:
        wallet = lock_wallets([member_id], require_active=False)[member_id]
        lots = driver_sql.fetchall(
            f"""
            SELECT id, remaining FROM public.ledger_lot
             WHERE member_id = %s AND remaining > 0 {condition}
             ORDER BY expires_at NULLS LAST, id
            """,  # noqa: S608 - condition is one of two constants
            [member_id] if every_lot else [member_id, now],
        )
        points = sum(int(row[1]) for row in lots)
        if not points:
            return Posting(0, TransactionKind.EXPIRY, 0, {"balance_after": wallet.balance})
        result = {
            "balance_after": wallet.balance - points,
            "lots": [int(row[0]) for row in lots],
            "reason": "inactivity" if every_lot else "expiry date",
        }
        tx_id, _ = insert_header(
            kind=TransactionKind.EXPIRY,
            partner_id=None,
            member_id=member_id,
            points=points,
            idem=None,
            digest=digest,
            result=result,
            memo=str(result["reason"]),
        )
        move_lots(tx_id, [(int(lot), -int(remaining)) for lot, remaining in lots])
        insert_entries(tx_id, [(wallet.account_id, -points), (breakage, points)])
        adjust_wallets({wallet.account_id: -points})
        return Posting(tx_id, TransactionKind.EXPIRY, points, result)

    payload = {"member": member_id, "now": now, "every_lot": every_lot}
    return run_idempotent(None, "expiry", payload, post).points
