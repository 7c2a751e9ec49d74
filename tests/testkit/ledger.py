"""Ledger test helpers.

Part 1 (used by test_concurrency.py): members with unique e-mails, threads with
their own database connections, and a whole-journal books report.
Part 2 (used by the ledger correctness tests): snapshots of the books ("nothing
changed") and the invariants of ARCHITECTURE.md checked with plain SQL,
independent of the service code and of ``coalition.ledger.verification``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from coalition.members.models import Member
from coalition.members.services import member_enrol

# --- part 1: concurrency helpers ---------------------------------------------------


def unique_member(prefix: str = "member") -> Member:
    """Enrol a member whose e-mail is unique across runs on committed data."""
    return member_enrol(email=f"{prefix}-{uuid.uuid4().hex[:12]}@example.com")


@dataclass
class ThreadOutcome:
    index: int
    value: Any = None
    error: BaseException | None = None


def run_threads(
    count: int,
    target: Callable[[int], Any],
    *,
    barrier: threading.Barrier | None = None,
    timeout: float = 120.0,
) -> list[ThreadOutcome]:
    """Run ``target(index)`` in ``count`` threads, each with its own database
    connection (closed at the end); wait on ``barrier`` first if given. Returns
    one outcome per thread, in index order: the value returned or the error."""
    outcomes = [ThreadOutcome(index) for index in range(count)]

    def run(index: int) -> None:
        try:
            if barrier is not None:
                barrier.wait()
            outcomes[index].value = target(index)
        except BaseException as exc:
            outcomes[index].error = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a worker thread hung"
    return outcomes


def wallet_state(member_id: int) -> tuple[int, int, int]:
    """(stored balance, sum of the wallet's entries, sum of the member's lots)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.balance,
                   (SELECT coalesce(sum(e.amount), 0) FROM public.ledger_entry e
                     WHERE e.account_id = a.id),
                   (SELECT coalesce(sum(l.remaining), 0) FROM public.ledger_lot l
                     WHERE l.member_id = a.member_id)
              FROM public.ledger_account a
             WHERE a.kind = 'wallet' AND a.member_id = %s
            """,
            [member_id],
        )
        row = cursor.fetchone()
    assert row is not None, f"member {member_id} has no wallet"
    return int(row[0]), int(row[1]), int(row[2])


@dataclass
class BooksReport:
    unbalanced_transactions: list[tuple[int, int]] = field(default_factory=list)
    grand_total: int = 0
    negative_wallets: int = 0
    wallets_off_entries: list[int] = field(default_factory=list)
    wallets_off_lots: list[int] = field(default_factory=list)
    holds_account_balance: int = 0
    pending_hold_points: int = 0


def books_report() -> BooksReport:
    """The whole journal's invariants, recomputed with SQL."""
    report = BooksReport()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT transaction_id, sum(amount) FROM public.ledger_entry
             GROUP BY transaction_id HAVING sum(amount) <> 0 ORDER BY transaction_id
            """
        )
        report.unbalanced_transactions = [(int(a), int(b)) for a, b in cursor.fetchall()]
        cursor.execute("SELECT coalesce(sum(amount), 0) FROM public.ledger_entry")
        report.grand_total = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT count(*) FROM public.ledger_account WHERE kind = 'wallet' AND balance < 0"
        )
        report.negative_wallets = int(cursor.fetchone()[0])
        cursor.execute(
            """
            SELECT a.member_id FROM public.ledger_account a
              LEFT JOIN (SELECT account_id, sum(amount) AS total FROM public.ledger_entry
                          GROUP BY account_id) e ON e.account_id = a.id
             WHERE a.kind = 'wallet' AND a.balance <> coalesce(e.total, 0)
            """
        )
        report.wallets_off_entries = [int(row[0]) for row in cursor.fetchall()]
        cursor.execute(
            """
            SELECT a.member_id FROM public.ledger_account a
              LEFT JOIN (SELECT member_id, sum(remaining) AS total FROM public.ledger_lot
                          GROUP BY member_id) l ON l.member_id = a.member_id
             WHERE a.kind = 'wallet' AND a.balance <> coalesce(l.total, 0)
            """
        )
        report.wallets_off_lots = [int(row[0]) for row in cursor.fetchall()]
        cursor.execute(
            """
            SELECT coalesce(sum(e.amount), 0) FROM public.ledger_entry e
              JOIN public.ledger_account a ON a.id = e.account_id WHERE a.kind = 'holds'
            """
        )
        report.holds_account_balance = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT coalesce(sum(points), 0) FROM public.ledger_hold WHERE status = 'pending'"
        )
        report.pending_hold_points = int(cursor.fetchone()[0])
    return report


# --- part 2: snapshots and invariants ------------------------------------------------

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
