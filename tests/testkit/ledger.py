"""Ledger test helpers: snapshots of the books ("nothing changed") and the
invariants of docs/architecture.md checked with plain SQL, independent of the service
code and of ``coalition.ledger.verification``. (Thread and whole-journal helpers
for concurrency tests live in ``tests.testkit.concurrency``.)"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

LEDGER_TABLES = (
    "ledger_transaction",
    "ledger_entry",
    "ledger_lot",
    "ledger_lotmovement",
    "ledger_hold",
    "ledger_chainlink",
    "ledger_accountsnapshot",
)


def fetchall(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def fetchone(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple[Any, ...]:
    rows = fetchall(sql, params)
    assert len(rows) == 1, rows
    return rows[0]


def scalar(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
    return fetchone(sql, params)[0]


def execute(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def table_counts() -> dict[str, int]:
    """Rows in every ledger table (one round trip)."""
    selects = ", ".join(f"(SELECT count(*) FROM public.{table})" for table in LEDGER_TABLES)
    row = fetchone(f"SELECT {selects}")
    return dict(zip(LEDGER_TABLES, (int(value) for value in row), strict=True))


def wallet_balances(member_ids: Iterable[int]) -> dict[int, int]:
    rows = fetchall(
        """
        SELECT member_id, balance FROM public.ledger_account
         WHERE kind = 'wallet' AND member_id = ANY(%s)
        """,
        [list(member_ids)],
    )
    return {int(member): int(balance) for member, balance in rows}


@dataclass(frozen=True)
class LedgerState:
    """Everything an operation could change, for "nothing changed" assertions."""

    counts: dict[str, int]
    balances: dict[int, int]
    lots: tuple[tuple[int, int], ...]
    holds: tuple[tuple[int, str, int], ...]
    max_transaction_id: int


def ledger_state(member_ids: Iterable[int]) -> LedgerState:
    ids = sorted(set(member_ids))
    lots = fetchall(
        "SELECT id, remaining FROM public.ledger_lot WHERE member_id = ANY(%s) ORDER BY id", [ids]
    )
    holds = fetchall(
        """
        SELECT id, status, captured_points FROM public.ledger_hold
         WHERE member_id = ANY(%s) ORDER BY id
        """,
        [ids],
    )
    return LedgerState(
        counts=table_counts(),
        balances=wallet_balances(ids),
        lots=tuple((int(lot), int(remaining)) for lot, remaining in lots),
        holds=tuple((int(hold), str(status), int(captured)) for hold, status, captured in holds),
        max_transaction_id=int(
            scalar("SELECT coalesce(max(id), 0) FROM public.ledger_transaction")
        ),
    )


def max_transaction_id() -> int:
    return int(scalar("SELECT coalesce(max(id), 0) FROM public.ledger_transaction"))


def invariant_violations(member_ids: Iterable[int], *, since_transaction: int = 0) -> list[str]:
    """The ledger invariants, checked with SQL. Journal-wide for the cheap ones
    (every entry together sums to zero, no wallet below zero); per transaction
    for those after ``since_transaction``; per wallet, lot and hold for these
    members. Returns the broken ones (empty when all hold)."""
    ids = sorted(set(member_ids))
    problems: list[str] = []

    total = int(scalar("SELECT coalesce(sum(amount), 0) FROM public.ledger_entry"))
    if total != 0:
        problems.append(f"all entries together sum to {total}")

    for tx_id, tx_sum in fetchall(
        """
        SELECT transaction_id, sum(amount) FROM public.ledger_entry
         WHERE transaction_id > %s GROUP BY transaction_id HAVING sum(amount) <> 0
        """,
        [since_transaction],
    ):
        problems.append(f"transaction {tx_id} entries sum to {tx_sum}")

    for account, balance in fetchall(
        "SELECT id, balance FROM public.ledger_account WHERE kind = 'wallet' AND balance < 0"
    ):
        problems.append(f"wallet account {account} is negative: {balance}")

    for member, stored, from_entries, in_lots in fetchall(
        """
        SELECT a.member_id, a.balance,
               (SELECT coalesce(sum(e.amount), 0) FROM public.ledger_entry e
                 WHERE e.account_id = a.id),
               (SELECT coalesce(sum(l.remaining), 0) FROM public.ledger_lot l
                 WHERE l.member_id = a.member_id)
          FROM public.ledger_account a
         WHERE a.kind = 'wallet' AND a.member_id = ANY(%s)
        """,
        [ids],
    ):
        if stored != from_entries:
            problems.append(f"member {member}: stored balance {stored}, entries say {from_entries}")
        if stored != in_lots:
            problems.append(f"member {member}: stored balance {stored}, lots hold {in_lots}")

    for lot, points, remaining, moved in fetchall(
        """
        SELECT l.id, l.points, l.remaining, coalesce(sum(m.points), 0)
          FROM public.ledger_lot l LEFT JOIN public.ledger_lotmovement m ON m.lot_id = l.id
         WHERE l.member_id = ANY(%s)
         GROUP BY l.id
        """,
        [ids],
    ):
        if remaining != points + moved:
            problems.append(f"lot {lot}: remaining {remaining}, points {points} + moves {moved}")
        if not 0 <= remaining <= points:
            problems.append(f"lot {lot}: remaining {remaining} outside 0..{points}")

    for hold, status, resolutions in fetchall(
        """
        SELECT h.id, h.status,
               (SELECT count(*) FROM public.ledger_transaction t
                 WHERE t.hold_id = h.id AND t.kind IN ('capture', 'void', 'hold_expiry'))
          FROM public.ledger_hold h
         WHERE h.member_id = ANY(%s)
        """,
        [ids],
    ):
        if resolutions > 1:
            problems.append(f"hold {hold} resolved {resolutions} times")
        if (status == "pending") != (resolutions == 0):
            problems.append(f"hold {hold} is {status} with {resolutions} resolving transactions")
    return problems


def derived_movements(member_ids: Iterable[int], *, since_transaction: int) -> dict[str, int]:
    """Net amount posted to each non-wallet account by these members' transactions
    after ``since_transaction``, keyed ``kind`` or ``kind:partner_id``."""
    rows = fetchall(
        """
        SELECT a.kind, a.partner_id, sum(e.amount)
          FROM public.ledger_entry e
          JOIN public.ledger_transaction t ON t.id = e.transaction_id
          JOIN public.ledger_account a ON a.id = e.account_id
         WHERE t.id > %s AND t.member_id = ANY(%s) AND a.kind <> 'wallet'
         GROUP BY a.kind, a.partner_id
        """,
        [since_transaction, sorted(set(member_ids))],
    )
    moved: dict[str, int] = {}
    for kind, partner, amount in rows:
        if int(amount) != 0:
            moved[kind if partner is None else f"{kind}:{partner}"] = int(amount)
    return moved


def post_journal_at(
    *, member_id: int, partner_id: int, amount: int, at: Any, kind: str | None = None
) -> int:
    """Journal rows of an earn (``amount`` > 0) or an earn reversal (< 0) stamped
    ``at``: the header and its two entries (wallet and the partner's issuance
    account), nothing else (no lot, the wallet's stored balance untouched). For
    tests of what reads the journal by time (tier qualification), inside a test
    transaction that rolls back: the services always stamp ``now()``."""
    from coalition.ledger.services import forget_known_accounts, partner_accounts_ensure

    forget_known_accounts()  # a rolled-back test may have removed accounts it remembers
    partner_accounts_ensure(partner_id)
    kind = kind or ("earn" if amount > 0 else "earn_reversal")
    return int(
        scalar(
            """
            WITH header AS (
                INSERT INTO public.ledger_transaction
                    (kind, partner_id, member_id, points, external_ref, memo, request_hash,
                     result, created_at)
                VALUES (%(kind)s, %(partner)s, %(member)s, abs(%(amount)s), '', 'backdated',
                        '', '{}'::jsonb, %(at)s)
                RETURNING id
            ), entries AS (
                INSERT INTO public.ledger_entry (transaction_id, account_id, amount)
                SELECT header.id, a.id,
                       CASE WHEN a.kind = 'wallet' THEN %(amount)s ELSE -%(amount)s END
                  FROM header, public.ledger_account a
                 WHERE (a.kind = 'wallet' AND a.member_id = %(member)s)
                    OR (a.kind = 'issuance' AND a.partner_id = %(partner)s)
            )
            SELECT id FROM header
            """,
            {"kind": kind, "partner": partner_id, "member": member_id, "amount": amount, "at": at},
        )
    )
