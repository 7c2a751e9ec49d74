"""Reads of the ledger: balances, lots, history, watermarks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext

from coalition.ledger.models import TransactionKind
from coalition.members.errors import UnknownMember


@dataclass(frozen=True)
class LotView:
    lot_id: int
    issuer_id: int | None  # None: coalition goodwill (no partner issued the points)
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
    partner_slug: str | None
    memo: str
    external_ref: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryPage:
    items: list[HistoryItem]
    next_before: int | None  # pass as ``before`` for the next (older) page


@dataclass(frozen=True)
class LotPage:
    lots: list[LotView]
    next_after: int | None  # a lot id: pass as ``after`` for the next page


def balance(member_id: int) -> int:
    """The member's wallet balance: one indexed row read."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT balance FROM public.ledger_account WHERE member_id = %s AND kind = 'wallet'",
            [member_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise UnknownMember("no such member")
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


def account_balances(account_ids: list[int]) -> dict[int, int]:
    """``account_balance`` of many accounts in one statement (statements that
    list accounts must not read them one by one)."""
    if not account_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.id,
                   CASE WHEN a.kind = 'wallet' THEN a.balance
                        ELSE coalesce(s.balance, 0) + coalesce((
                             SELECT sum(e.amount) FROM public.ledger_entry e
                              WHERE e.account_id = a.id
                                AND e.transaction_id > coalesce(s.as_of_transaction_id, 0)), 0)
                   END
              FROM public.ledger_account a
              LEFT JOIN LATERAL (
                  SELECT as_of_transaction_id, balance FROM public.ledger_accountsnapshot
                   WHERE account_id = a.id ORDER BY as_of_transaction_id DESC LIMIT 1
              ) s ON true
             WHERE a.id = ANY(%s::bigint[])
            """,
            [list(account_ids)],
        )
        return {int(account_id): int(value) for account_id, value in cursor.fetchall()}


def points_issued_by(member_id: int, issuer_id: int) -> int:
    """Points the member still holds in lots ``issuer_id`` issued: all that partner
    may take back with an adjustment."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(remaining), 0) FROM public.ledger_lot
             WHERE member_id = %s AND issuer_id = %s AND remaining > 0
            """,
            [member_id, issuer_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def goodwill_issuer_name() -> str:
    """What a lot with no issuer is called: the coalition gave those points."""
    return gettext("Coalition goodwill")


def _lot_view(row: Sequence[Any]) -> LotView:
    name = row[2] if row[1] is not None else goodwill_issuer_name()
    return LotView(row[0], row[1], name, row[3], row[4], row[5], row[6])


def lots(member_id: int, *, include_spent: bool = False) -> list[LotView]:
    """The member's lots, in the order they will be spent (soonest expiry first)."""
    condition = "" if include_spent else "AND l.remaining > 0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT l.id, l.issuer_id, p.name, l.earned_at, l.expires_at, l.points, l.remaining
              FROM public.ledger_lot l LEFT JOIN public.partners_partner p ON p.id = l.issuer_id
             WHERE l.member_id = %s {condition}
             ORDER BY l.expires_at ASC NULLS LAST, l.earned_at, l.id
            """,  # noqa: S608 - condition is one of two constants
            [member_id],
        )
        return [_lot_view(row) for row in cursor.fetchall()]


def lots_page(member_id: int, *, after: int | None = None, limit: int = 20) -> LotPage:
    """One page of the member's unspent lots in spending order (soonest expiry
    first, undated last), keyset-paginated: ``after`` is the last lot id of the
    previous page, whose (expiry, earned, id) the next page starts beyond. A lot's
    dates never change, so pages stay stable while points are spent."""
    limit = max(1, min(limit, 200))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.id, l.issuer_id, p.name, l.earned_at, l.expires_at, l.points, l.remaining
              FROM public.ledger_lot l LEFT JOIN public.partners_partner p ON p.id = l.issuer_id
             WHERE l.member_id = %(member)s AND l.remaining > 0
               AND (%(after)s::bigint IS NULL
                    OR (coalesce(l.expires_at, 'infinity'::timestamptz), l.earned_at, l.id) > (
                        SELECT coalesce(c.expires_at, 'infinity'::timestamptz), c.earned_at, c.id
                          FROM public.ledger_lot c
                         WHERE c.id = %(after)s::bigint AND c.member_id = %(member)s))
             ORDER BY l.expires_at ASC NULLS LAST, l.earned_at, l.id
             LIMIT %(limit)s
            """,
            {"member": member_id, "after": after, "limit": limit + 1},
        )
        rows = cursor.fetchall()
    page = [_lot_view(row) for row in rows[:limit]]
    return LotPage(page, page[-1].lot_id if len(rows) > limit else None)


def history(
    member_id: int,
    *,
    before: int | None = None,
    limit: int = 50,
    kind: str | None = None,
    partner_slug: str | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> HistoryPage:
    """The member's wallet movements, newest first, keyset-paginated by the ledger
    sequence: stable while new transactions arrive. The wallet's account id is
    found first (a one-row sub-select), so the statement walks the journal's
    (account, transaction) index backwards and stops after a page, however long
    the member's past: joined from the account instead, the planner read and
    sorted every entry of the wallet for each page.

    Optional filters, all in the same one statement: the transaction ``kind``,
    the partner it happened at (by slug; an unknown slug matches nothing) and a
    half-open time window, ``occurred_after <= created_at < occurred_before``, so
    consecutive windows neither overlap nor miss anything.
    """
    limit = max(1, min(limit, 200))
    if kind is not None and kind not in TransactionKind.values:
        raise ValueError(f"unknown transaction kind {kind!r}")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.id, t.kind, e.amount, t.partner_id, p.name, p.slug, t.memo, t.external_ref,
                   t.created_at
              FROM public.ledger_entry e
              JOIN public.ledger_transaction t ON t.id = e.transaction_id
              LEFT JOIN public.partners_partner p ON p.id = t.partner_id
             WHERE e.account_id = (SELECT a.id FROM public.ledger_account a
                                    WHERE a.member_id = %(member)s AND a.kind = 'wallet')
               AND e.transaction_id < %(before)s
               AND (%(kind)s::text IS NULL OR t.kind = %(kind)s::text)
               AND (%(partner)s::text IS NULL OR t.partner_id = (
                       SELECT id FROM public.partners_partner WHERE slug = %(partner)s::text))
               AND (%(after)s::timestamptz IS NULL OR t.created_at >= %(after)s::timestamptz)
               AND (%(until)s::timestamptz IS NULL OR t.created_at < %(until)s::timestamptz)
             ORDER BY e.transaction_id DESC
             LIMIT %(limit)s
            """,
            {
                "member": member_id,
                "before": before or 2**62,
                "kind": kind,
                "partner": partner_slug,
                "after": occurred_after,
                "until": occurred_before,
                "limit": limit + 1,
            },
        )
        rows = cursor.fetchall()
    items = [HistoryItem(*row) for row in rows[:limit]]
    next_before = items[-1].transaction_id if len(rows) > limit else None
    return HistoryPage(items, next_before)


def journal_head() -> int:
    """The id of the journal's last transaction now, without a lock: a view of how
    far the journal has got (an open period's figures so far), never a boundary."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM public.ledger_transaction")
        (head,) = cursor.fetchone()
    return int(head)


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


def last_transaction_before(instant: datetime, through_id: int) -> int:
    """The sequence just before the first transaction created at or after
    ``instant`` (up to ``through_id``): where a window "since ``instant``" starts."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(min(id), %(through)s + 1) - 1 FROM public.ledger_transaction
             WHERE created_at >= %(instant)s AND id <= %(through)s
            """,
            {"instant": instant, "through": through_id},
        )
        (before,) = cursor.fetchone()
    return int(before)


@dataclass(frozen=True)
class EarnedAtPartner:
    member_id: int
    partner_id: int | None
    partner_name: str
    points: int


def earned_by_partner(
    *, after_id: int, through_id: int, after_member: int = 0, members: int = 500
) -> list[EarnedAtPartner]:
    """Points earned per member and partner in the journal window
    ``after_id < id <= through_id``: the next ``members`` members (by id) after
    ``after_member`` who earned in it, each with every partner they earned at."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH window_earns AS (
                SELECT t.member_id, t.partner_id, t.points
                  FROM public.ledger_transaction t
                 WHERE t.id > %(after)s AND t.id <= %(through)s
                   AND t.kind = 'earn' AND t.member_id IS NOT NULL
            ), page AS (
                SELECT DISTINCT member_id FROM window_earns
                 WHERE member_id > %(after_member)s ORDER BY member_id LIMIT %(members)s
            )
            SELECT w.member_id, w.partner_id, coalesce(p.name, ''), sum(w.points)
              FROM window_earns w
              JOIN page ON page.member_id = w.member_id
              LEFT JOIN public.partners_partner p ON p.id = w.partner_id
             GROUP BY 1, 2, 3 ORDER BY 1, 3
            """,
            {
                "after": after_id,
                "through": through_id,
                "after_member": after_member,
                "members": members,
            },
        )
        return [EarnedAtPartner(int(m), p, name, int(points)) for m, p, name, points in cursor]
