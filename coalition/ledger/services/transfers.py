"""Transfers: points moved between two active members' wallets. The recipient
gets new lots that keep the issuer, earn date and expiry of the sender's lots
they came from, so nothing changes hands until the points are redeemed."""

from __future__ import annotations

from typing import Any

from coalition.ledger.errors import InsufficientPoints, TransferToSelf
from coalition.ledger.models import TransactionKind
from coalition.ledger.services.posting import (
    Posting,
    adjust_wallets,
    insert_entries,
    insert_header,
    lock_wallets,
    move_lots,
    plan_consumption,
    replay,
    require_positive,
    run_idempotent,
)
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey, request_hash


def _transfer_payload(from_member_id: int, to_member_id: int, points: int) -> dict[str, Any]:
    return {"from": from_member_id, "to": to_member_id, "points": points}


def transfer_replay(
    *, from_member_id: int, to_member_id: int, points: int, idempotency: IdempotencyKey
) -> Posting | None:
    """The earlier result of this exact transfer request, if it was posted (a
    different request under the same key is ``IdempotencyKeyReused``)."""
    payload = _transfer_payload(from_member_id, to_member_id, points)
    return replay(idempotency, request_hash("transfer", payload))


def transfer(
    *,
    from_member_id: int,
    to_member_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    memo: str = "",
) -> Posting:
    """Move points between two active members. The recipient gets new lots that keep
    the issuer, earn date and expiry of the sender's lots they came from."""
    require_positive(points)
    if from_member_id == to_member_id:
        raise TransferToSelf("a member cannot transfer points to themselves")
    payload = _transfer_payload(from_member_id, to_member_id, points)

    def post(digest: str) -> Posting:
        wallets = lock_wallets([from_member_id, to_member_id], require_active=True)
        sender, recipient = wallets[from_member_id], wallets[to_member_id]
        if sender.balance < points:
            raise InsufficientPoints(f"the sender has {sender.balance} points, {points} needed")
        plan = plan_consumption(from_member_id, points)
        result = {
            "balance_after": sender.balance - points,
            "to_member": to_member_id,
            "recipient_balance_after": recipient.balance + points,
        }
        tx_id, _ = insert_header(
            kind=TransactionKind.TRANSFER,
            partner_id=None,
            member_id=from_member_id,
            points=points,
            idem=idempotency,
            digest=digest,
            result=result,
            memo=memo,
        )
        move_lots(tx_id, [(lot, -taken) for lot, taken, _ in plan])
        driver_sql.execute(
            """
            INSERT INTO public.ledger_lot
                (member_id, issuer_id, transaction_id, source_lot_id, earned_at, expires_at,
                 points, remaining)
            SELECT %s, src.issuer_id, %s, src.id, src.earned_at, src.expires_at, t.points, t.points
              FROM unnest(%s::bigint[], %s::bigint[]) AS t(lot, points)
              JOIN public.ledger_lot src ON src.id = t.lot
            """,
            [to_member_id, tx_id, [p[0] for p in plan], [p[1] for p in plan]],
        )
        insert_entries(tx_id, [(sender.account_id, -points), (recipient.account_id, points)])
        adjust_wallets({sender.account_id: -points, recipient.account_id: points})
        return Posting(tx_id, TransactionKind.TRANSFER, points, result)

    return run_idempotent(idempotency, "transfer", payload, post)
