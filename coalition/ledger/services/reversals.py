"""Reversals: taking back an earn (points go back to the issuer), a burn (points
go back to the member's lots) or a transfer (points go back to the sender),
wholly or in part, repeatedly, never beyond the original."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coalition.ledger.errors import (
    InsufficientPoints,
    LedgerInconsistent,
    NotReversible,
    ReversalExceedsOriginal,
    UnknownTransaction,
)
from coalition.ledger.models import AccountKind, TransactionKind
from coalition.ledger.services.accounts import partner_account_id
from coalition.ledger.services.posting import (
    Posting,
    Wallet,
    adjust_wallets,
    as_dict,
    insert_entries,
    insert_header,
    lock_wallets,
    move_lots,
    net_consumed,
    one_row,
    require_positive,
    restore_plan,
    reversal_ids,
    run_idempotent,
)
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey

REVERSAL_KINDS = {
    TransactionKind.EARN: TransactionKind.EARN_REVERSAL,
    TransactionKind.BURN: TransactionKind.BURN_REVERSAL,
    TransactionKind.TRANSFER: TransactionKind.TRANSFER_REVERSAL,
}


def reverse(
    *,
    transaction_id: int,
    points: int | None = None,
    allow_shortfall: bool = False,
    idempotency: IdempotencyKey | None = None,
    memo: str = "",
) -> Posting:
    """Reverse an earn, burn or transfer, wholly or in part (repeatedly, up to the
    original points).

    Reversing points that the member has meanwhile spent: with ``allow_shortfall``
    the ledger takes back what is still there (from the lots the original created)
    and reports the rest as ``shortfall``; otherwise ``InsufficientPoints``. A
    wallet never goes negative either way.
    """
    if points is not None:
        require_positive(points)
    payload = {"transaction": transaction_id, "points": points, "shortfall": allow_shortfall}

    def post(digest: str) -> Posting:
        original = driver_sql.fetchone(
            """
            SELECT kind, partner_id, member_id, points, result FROM public.ledger_transaction
             WHERE id = %s
            """,
            [transaction_id],
        )
        if original is None:
            raise UnknownTransaction(f"no ledger transaction {transaction_id}")
        kind, partner_id, member_id, original_points, original_result = original
        if kind not in REVERSAL_KINDS:
            raise NotReversible(f"a {kind} transaction cannot be reversed")
        member_id = int(member_id)
        recipient_id = _recipient(kind, as_dict(original_result))
        members = [member_id] if recipient_id is None else [member_id, recipient_id]
        wallets = lock_wallets(members, require_active=False)
        # Serialise reversals of the same original (the wallet lock may not cover
        # it when the member's wallet is locked by a different reversal path).
        driver_sql.fetchone(
            "SELECT id FROM public.ledger_transaction WHERE id = %s FOR UPDATE", [transaction_id]
        )
        already = one_row(
            "SELECT coalesce(sum(points), 0) FROM public.ledger_transaction WHERE reverses_id = %s",
            [transaction_id],
            f"reversals of transaction {transaction_id}",
        )
        left = int(original_points) - int(already[0])
        requested = points if points is not None else left
        if requested <= 0 or requested > left:
            raise ReversalExceedsOriginal(
                f"transaction {transaction_id} has {left} points left to reverse, "
                f"{requested} requested"
            )
        reversal = _Reversal(
            original_id=transaction_id,
            kind=REVERSAL_KINDS[kind],
            member_id=member_id,
            points=requested,
            idem=idempotency,
            digest=digest,
            memo=memo,
        )
        if kind == TransactionKind.BURN:
            return _reverse_burn(reversal, _issuer_or_partner(partner_id, kind), wallets)
        if recipient_id is not None:
            return _reverse_transfer(reversal, recipient_id, allow_shortfall, wallets)
        return _reverse_earn(
            reversal, _issuer_or_partner(partner_id, kind), allow_shortfall, wallets
        )

    return run_idempotent(idempotency, "reverse", payload, post)


@dataclass(frozen=True)
class _Reversal:
    """What every reversal posts under: the original, its reversal kind, who, how
    much, and the request's key and fingerprint."""

    original_id: int
    kind: str
    member_id: int
    points: int
    idem: IdempotencyKey | None
    digest: str
    memo: str

    def header(self, partner_id: int | None, result: dict[str, Any]) -> int:
        tx_id, _ = insert_header(
            kind=self.kind,
            partner_id=partner_id,
            member_id=self.member_id,
            points=self.points,
            idem=self.idem,
            digest=self.digest,
            result=result,
            memo=self.memo,
            reverses_id=self.original_id,
        )
        return tx_id


def _recipient(kind: str, original_result: dict[str, Any]) -> int | None:
    """The member a transfer went to (None for an earn or a burn)."""
    if kind != TransactionKind.TRANSFER:
        return None
    recipient = original_result.get("to_member")
    if recipient is None:
        raise LedgerInconsistent("a transfer without its recipient")
    return int(recipient)


def _issuer_or_partner(partner_id: int | None, kind: str) -> int:
    """The partner of an earn (its issuer) or of a burn (where it was spent)."""
    if partner_id is None:
        raise LedgerInconsistent(f"a {kind} without its partner")
    return int(partner_id)


def _reverse_burn(reversal: _Reversal, partner_id: int, wallets: dict[int, Wallet]) -> Posting:
    """Points spent at a partner come back to the lots they were taken from."""
    wallet = wallets[reversal.member_id]
    points = reversal.points
    redemption = partner_account_id(partner_id, AccountKind.REDEMPTION)
    original = reversal.original_id
    restore = restore_plan(net_consumed([original, *reversal_ids(original)]), points)
    result = {"reversed": points, "shortfall": 0, "balance_after": wallet.balance + points}
    tx_id = reversal.header(partner_id, result)
    move_lots(tx_id, restore)
    insert_entries(tx_id, [(redemption, -points), (wallet.account_id, points)])
    adjust_wallets({wallet.account_id: points})
    return Posting(tx_id, reversal.kind, points, result)


def _take_back(reversal: _Reversal, allow_shortfall: bool) -> tuple[list[tuple[int, int]], int]:
    """Lot moves taking the reversal's points back out of the lots the original
    created (the earner's lot, or the recipient's lots of a transfer), and how
    many points that is: fewer than asked only with ``allow_shortfall``."""
    lots = driver_sql.fetchall(
        """
        SELECT id, remaining FROM public.ledger_lot
         WHERE transaction_id = %s AND remaining > 0 ORDER BY id
        """,
        [reversal.original_id],
    )
    moves, left = [], reversal.points
    for lot_id, remaining in lots:
        if left == 0:
            break
        take = min(left, int(remaining))
        moves.append((int(lot_id), -take))
        left -= take
    taken = reversal.points - left
    if left and not allow_shortfall:
        raise InsufficientPoints(
            f"only {taken} of the {reversal.points} points are still in the wallet; "
            "allow a shortfall to take back what is there"
        )
    return moves, taken


def _reverse_earn(
    reversal: _Reversal, issuer_id: int, allow_shortfall: bool, wallets: dict[int, Wallet]
) -> Posting:
    """Points earned go back to their issuer, from the lot the earn created."""
    holder = wallets[reversal.member_id]
    moves, taken = _take_back(reversal, allow_shortfall)
    issuance = partner_account_id(issuer_id, AccountKind.ISSUANCE)
    result = {
        "reversed": taken,
        "shortfall": reversal.points - taken,
        "balance_after": holder.balance - taken,
    }
    tx_id = reversal.header(issuer_id, result)
    move_lots(tx_id, moves)
    insert_entries(tx_id, [(holder.account_id, -taken), (issuance, taken)])
    adjust_wallets({holder.account_id: -taken})
    return Posting(tx_id, reversal.kind, reversal.points, result)


def _reverse_transfer(
    reversal: _Reversal, recipient_id: int, allow_shortfall: bool, wallets: dict[int, Wallet]
) -> Posting:
    """Points transferred go back from the recipient's new lots to the sender's
    lots they came from."""
    holder, sender = wallets[recipient_id], wallets[reversal.member_id]
    moves, taken = _take_back(reversal, allow_shortfall)
    original = reversal.original_id
    consumed = net_consumed([original, *reversal_ids(original)], member_id=sender.member_id)
    moves += restore_plan(consumed, taken)
    result = {
        "reversed": taken,
        "shortfall": reversal.points - taken,
        "balance_after": holder.balance - taken,
    }
    tx_id = reversal.header(None, result)
    move_lots(tx_id, moves)
    insert_entries(tx_id, [(holder.account_id, -taken), (sender.account_id, taken)])
    adjust_wallets({holder.account_id: -taken, sender.account_id: taken})
    return Posting(tx_id, reversal.kind, reversal.points, result)
