"""Helpers for concurrency tests and benchmarks on committed data (``live_db``):
uniquely named members, threads that close their connections, and the
books-balance checks every concurrency test ends with."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from coalition.members.models import Member, MemberStatus
from coalition.members.numbers import member_number_from_sequence
from coalition.members.services import member_enrol


def unique_member(prefix: str = "member") -> Member:
    """Enrol a member nobody else uses (committed data is never flushed)."""
    return member_enrol(email=f"{prefix}-{uuid.uuid4().hex}@example.com")


def bulk_members(count: int, prefix: str = "bulk") -> list[int]:
    """Create ``count`` active members with their wallets in two statements;
    return their ids in creation order. For benchmarks that need many members."""
    run = uuid.uuid4().hex[:12]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval('public.members_member_number_seq') FROM generate_series(1, %s)",
            [count],
        )
        numbers = [member_number_from_sequence(int(row[0])) for row in cursor.fetchall()]
        cursor.execute(
            """
            WITH new AS (
                INSERT INTO public.members_member
                    (member_number, email, status, marketing_email_consent,
                     marketing_sms_consent, data_sharing_consent, enrol_request_hash,
                     enrolled_at)
                SELECT n.number, %s || '-' || n.ord || '@example.com', %s,
                       false, false, false, '', now()
                  FROM unnest(%s::text[]) WITH ORDINALITY AS n(number, ord)
                RETURNING id
            ), wallets AS (
                INSERT INTO public.ledger_account (kind, member_id, name, balance, created_at)
                SELECT 'wallet', id, '', 0, now() FROM new
            )
            SELECT id FROM new ORDER BY id
            """,
            [f"{prefix}-{run}", MemberStatus.ACTIVE, numbers],
        )
        return [int(row[0]) for row in cursor.fetchall()]


@dataclass
class ThreadOutcome:
    """What one worker thread returned or raised."""

    index: int
    value: Any = None
    error: BaseException | None = None


def run_threads(
    count: int,
    work: Callable[[int], Any],
    *,
    barrier: threading.Barrier | None = None,
    timeout: float = 120.0,
) -> list[ThreadOutcome]:
    """Run ``work(i)`` in ``count`` threads; each closes its database connection at
    the end. With a barrier, every thread waits on it right before ``work``."""
    outcomes = [ThreadOutcome(index) for index in range(count)]

    def target(index: int) -> None:
        try:
            if barrier is not None:
                barrier.wait(timeout=timeout)
            outcomes[index].value = work(index)
        except BaseException as exc:
            outcomes[index].error = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    alive = [thread.name for thread in threads if thread.is_alive()]
    assert not alive, f"threads still running after {timeout}s: {alive}"
    return outcomes


@dataclass
class BooksReport:
    """The ledger-wide invariants, read with plain SQL in one go."""

    unbalanced_transactions: list[tuple[int, int]] = field(default_factory=list)
    grand_total: int = 0
    negative_wallets: int = 0
    wallets_off_entries: list[tuple[int, ...]] = field(default_factory=list)
    wallets_off_lots: list[tuple[int, ...]] = field(default_factory=list)
    holds_account_balance: int = 0
    pending_hold_points: int = 0


def books_report() -> BooksReport:
    report = BooksReport()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT transaction_id, sum(amount) FROM public.ledger_entry
             GROUP BY transaction_id HAVING sum(amount) <> 0 LIMIT 20
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
            SELECT a.member_id, a.balance, coalesce(sum(e.amount), 0)
              FROM public.ledger_account a
              LEFT JOIN public.ledger_entry e ON e.account_id = a.id
             WHERE a.kind = 'wallet'
             GROUP BY a.id HAVING a.balance <> coalesce(sum(e.amount), 0) LIMIT 20
            """
        )
        report.wallets_off_entries = [tuple(map(int, row)) for row in cursor.fetchall()]
        cursor.execute(
            """
            SELECT a.member_id, a.balance, coalesce(sum(l.remaining), 0)
              FROM public.ledger_account a
              LEFT JOIN public.ledger_lot l ON l.member_id = a.member_id
             WHERE a.kind = 'wallet'
             GROUP BY a.id HAVING a.balance <> coalesce(sum(l.remaining), 0) LIMIT 20
            """
        )
        report.wallets_off_lots = [tuple(map(int, row)) for row in cursor.fetchall()]
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


def wallet_state(member_id: int) -> tuple[int, int, int]:
    """(stored balance, sum of the wallet's entries, sum of the member's lots)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.balance,
                   (SELECT coalesce(sum(amount), 0) FROM public.ledger_entry
                     WHERE account_id = a.id),
                   (SELECT coalesce(sum(remaining), 0) FROM public.ledger_lot
                     WHERE member_id = a.member_id)
              FROM public.ledger_account a WHERE a.member_id = %s AND a.kind = 'wallet'
            """,
            [member_id],
        )
        row = cursor.fetchone()
    assert row is not None, f"member {member_id} has no wallet"
    return int(row[0]), int(row[1]), int(row[2])
