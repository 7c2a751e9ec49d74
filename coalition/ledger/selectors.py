"""Reads of the ledger: balances, lots, history, watermarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from coalition.members.errors import UnknownMember


@dataclass(frozen=True)
class LotView:
    lot_id: int
    issuer_id: int
    issuer_name: str
    earned_at: datetime
    expires_at: datetime | None
    points: int
    remaining: int


@dataclass(frozen=True)
class HistoryItem:
    transaction_id: int
    kind: str
    points: int  # signed: what it did to the wallet
    partner_id: int | None
    partner_name: str | None
    memo: str
    external_ref: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryPage:
    items: list[HistoryItem]
    next_before: int | None  # pass as ``before`` for the next (older) page


def balance(member_id: int) -> int:
    """The member's wallet balance: one indexed row read."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT balance FROM public.ledger_account WHERE member_id = %s AND kind = 'wallet'",
            [member_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise UnknownMember(f"no member with id {member_id}")
    return int(row[0])


def account_balance(account_id: int) -> int:
    """Balance of any account. Wallets store it; derived (hot) accounts add the
    entries after their latest snapshot to that snapshot."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.kind, a.balance, s.as_of_transaction_id, s.balance
              FROM public.ledger_account a
              LEFT JOIN LATERAL (
                  SELECT as_of_transaction_id, balance FROM public.ledger_accountsnapshot
                   WHERE account_id = a.id ORDER BY as_of_transaction_id DESC LIMIT 1
              ) s ON true
             WHERE a.id = %s
            """,
            [account_id],
        )
        row = cursor.fetchone()
        if row is None:
            raise LookupError(f"no account {account_id}")
        kind, stored, as_of, snapshot = row
        if kind == "wallet":
            return int(stored)
        cursor.execute(
            """
            SELECT coalesce(sum(amount), 0) FROM public.ledger_entry
             WHERE account_id = %s AND transaction_id > %s
            """,
            [account_id, as_of or 0],
        )
        (since,) = cursor.fetchone()
    return int(snapshot or 0) + int(since)


def lots(member_id: int, *, include_spent: bool = False) -> list[LotView]:
    """The member's lots, in the order they will be spent (soonest expiry first)."""
    condition = "" if include_spent else "AND l.remaining > 0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT l.id, l.issuer_id, p.name, l.earned_at, l.expires_at, l.points, l.remaining
              FROM public.ledger_lot l JOIN public.partners_partner p ON p.id = l.issuer_id
             WHERE l.member_id = %s {condition}
             ORDER BY l.expires_at ASC NULLS LAST, l.earned_at, l.id
            """,  # noqa: S608 - condition is one of two constants
            [member_id],
        )
        return [LotView(*row) for row in cursor.fetchall()]


def history(member_id: int, *, before: int | None = None, limit: int = 50) -> HistoryPage:
    """The member's wallet movements, newest first, keyset-paginated by the ledger
    sequence: stable while new transactions arrive."""
    limit = max(1, min(limit, 200))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.id, t.kind, e.amount, t.partner_id, p.name, t.memo, t.external_ref,
                   t.created_at
              FROM public.ledger_account a
              JOIN public.ledger_entry e ON e.account_id = a.id
              JOIN public.ledger_transaction t ON t.id = e.transaction_id
              LEFT JOIN public.partners_partner p ON p.id = t.partner_id
             WHERE a.member_id = %s AND a.kind = 'wallet' AND e.transaction_id < %s
             ORDER BY e.transaction_id DESC
             LIMIT %s
            """,
            [member_id, before or 2**62, limit + 1],
        )
        rows = cursor.fetchall()
    items = [HistoryItem(*row) for row in rows[:limit]]
    next_before = items[-1].transaction_id if len(rows) > limit else None
    return HistoryPage(items, next_before)


def safe_watermark() -> int:
    """The highest ledger sequence below which every transaction has committed.

    A SHARE lock on the journal waits for the transactions writing to it right
    now and holds off new writers for the instant it takes to read the maximum:
    no transaction with a lower id can commit after this returns. Used to close
    settlement periods and to take balance snapshots, never on the write path.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE public.ledger_transaction IN SHARE MODE")
        cursor.execute("SELECT coalesce(max(id), 0) FROM public.ledger_transaction")
        (watermark,) = cursor.fetchone()
    return int(watermark)
