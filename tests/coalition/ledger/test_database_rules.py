"""The accounting rules are the database's, not only the Python code's: raw SQL,
as a buggy script or a careless operator would send it, is refused.

Each refused statement runs in a savepoint (``transaction.atomic``) so the test
transaction survives it, and the row it aimed at is checked to be unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import IntegrityError, transaction

from coalition.ledger import services
from coalition.members.services import member_enrol
from tenants.partners.models import Partner
from tests.testkit import assert_on_test_database
from tests.testkit.ledger import execute, fetchall, scalar


@pytest.fixture(autouse=True)
def _fresh_account_cache() -> Iterator[None]:
    # the test transaction is rolled back: accounts cached as known may be gone
    services.forget_known_accounts()
    yield
    services.forget_known_accounts()


@dataclass(frozen=True)
class Posted:
    member_id: int
    wallet_id: int
    issuance_id: int
    earn_id: int
    burn_id: int
    entry_id: int
    lot_id: int
    movement_id: int
    hold_id: int


@pytest.fixture
def posted(db: None, partner_a: Partner) -> Posted:
    """An earn, a burn (which moves a lot), a pending hold and a chain link."""
    member = member_enrol(email="rules@example.com")
    earned = services.earn(member_id=member.pk, partner_id=partner_a.pk, points=100)
    burned = services.burn(member_id=member.pk, partner_id=partner_a.pk, points=30)
    hold = services.hold_authorize(member_id=member.pk, partner_id=partner_a.pk, points=10)
    # a chain link of our own (sealing here would seal the whole shared journal)
    execute(
        """
        INSERT INTO public.ledger_chainlink (transaction_id, position, prev_hash, hash, sealed_at)
        SELECT %s, coalesce(max(position), 0) + 1, repeat('0', 64), repeat('a', 64), now()
          FROM public.ledger_chainlink
        """,
        [earned.transaction_id],
    )
    return Posted(
        member_id=member.pk,
        wallet_id=int(
            scalar(
                "SELECT id FROM public.ledger_account WHERE member_id = %s AND kind = 'wallet'",
                [member.pk],
            )
        ),
        issuance_id=int(
            scalar(
                "SELECT id FROM public.ledger_account WHERE partner_id = %s AND kind = 'issuance'",
                [partner_a.pk],
            )
        ),
        earn_id=earned.transaction_id,
        burn_id=burned.transaction_id,
        entry_id=int(
            scalar(
                "SELECT min(id) FROM public.ledger_entry WHERE transaction_id = %s",
                [earned.transaction_id],
            )
        ),
        lot_id=int(earned.result["lot"]),
        movement_id=int(
            scalar(
                "SELECT min(id) FROM public.ledger_lotmovement WHERE transaction_id = %s",
                [burned.transaction_id],
            )
        ),
        hold_id=int(hold.result["hold"]),
    )


def _refused(sql: str, params: list[object], match: str) -> None:
    """The statement fails with an integrity error (in a savepoint, so the test's
    transaction goes on); a lock wait cannot hang the test."""
    execute("SET LOCAL lock_timeout = '5s'")
    with pytest.raises(IntegrityError, match=match), transaction.atomic():
        execute(sql, params)


def _row(table: str, key: str, value: int) -> tuple[object, ...]:
    rows = fetchall(f"SELECT * FROM public.{table} WHERE {key} = %s", [value])
    assert len(rows) == 1
    return rows[0]


# (table, key column, fixture field holding a row of it, an UPDATE's SET clause)
APPEND_ONLY = [
    ("ledger_entry", "id", "entry_id", "amount = amount + 1"),
    ("ledger_transaction", "id", "earn_id", "points = points + 1"),
    ("ledger_lotmovement", "id", "movement_id", "points = points - 1"),
    ("ledger_chainlink", "transaction_id", "earn_id", "hash = repeat('b', 64)"),
]


@pytest.mark.parametrize(("table", "key", "row", "change"), APPEND_ONLY)
def test_updating_a_journal_row_is_refused(
    posted: Posted, table: str, key: str, row: str, change: str
) -> None:
    # given a committed-looking journal row
    row_id = getattr(posted, row)
    before = _row(table, key, row_id)
    # when it is updated with raw SQL, then the database refuses
    _refused(f"UPDATE public.{table} SET {change} WHERE {key} = %s", [row_id], "append-only")
    # and even an update that changes nothing is refused
    _refused(f"UPDATE public.{table} SET {key} = {key} WHERE {key} = %s", [row_id], "append-only")
    assert _row(table, key, row_id) == before


@pytest.mark.parametrize(("table", "key", "row", "change"), APPEND_ONLY)
def test_deleting_a_journal_row_is_refused(
    posted: Posted, table: str, key: str, row: str, change: str
) -> None:
    # given a journal row
    row_id = getattr(posted, row)
    before = _row(table, key, row_id)
    # when it is deleted with raw SQL, then the database refuses and it stays
    _refused(f"DELETE FROM public.{table} WHERE {key} = %s", [row_id], "append-only")
    assert _row(table, key, row_id) == before


@pytest.mark.parametrize("table", [table for table, *_ in APPEND_ONLY])
def test_truncating_a_journal_table_is_refused(posted: Posted, table: str) -> None:
    # given journal tables with rows
    count = int(scalar(f"SELECT count(*) FROM public.{table}"))
    assert count > 0
    # (TRUNCATE needs no pending trigger events in the transaction: run them now)
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    # when a table is truncated (CASCADE, so references do not stop it first),
    # then its trigger refuses and every row stays
    _refused(f"TRUNCATE public.{table} CASCADE", [], "append-only")
    assert int(scalar(f"SELECT count(*) FROM public.{table}")) == count


def _insert_header(points: int = 5, scope: str | None = None, key: str | None = None) -> int:
    return int(
        scalar(
            """
            INSERT INTO public.ledger_transaction
                (kind, points, external_ref, memo, idempotency_scope, idempotency_key,
                 request_hash, result, created_at)
            VALUES ('earn', %s, '', 'raw', %s, %s, '', '{}'::jsonb, now()) RETURNING id
            """,
            [points, scope, key],
        )
    )


def _insert_entries(tx_id: int, legs: list[tuple[int, int]]) -> None:
    for account, amount in legs:
        execute(
            "INSERT INTO public.ledger_entry (transaction_id, account_id, amount) "
            "VALUES (%s, %s, %s)",
            [tx_id, account, amount],
        )


def _post_raw(
    legs: list[tuple[int, int]], *, check_now: bool, ids: list[int], points: int = 5
) -> None:
    """A journal transaction written with raw SQL, in a savepoint (or, outside any
    transaction, committed); ``check_now`` runs the deferred checks at once."""
    with transaction.atomic():
        ids.append(_insert_header(points))
        _insert_entries(ids[-1], legs)
        if check_now:
            execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_an_unbalanced_transaction_is_refused_when_constraints_are_checked(
    posted: Posted,
) -> None:
    # given a header and one lone entry, inserted with raw SQL (the check is
    # deferred to commit; SET CONSTRAINTS ALL IMMEDIATE runs it now), when the
    # deferred checks run, then the database refuses the transaction
    ids: list[int] = []
    with pytest.raises(IntegrityError, match="does not balance"):
        _post_raw([(posted.wallet_id, 5)], check_now=True, ids=ids)
    tx_id = ids[0]
    # and nothing of it is left
    assert (
        scalar("SELECT count(*) FROM public.ledger_entry WHERE transaction_id = %s", [tx_id]) == 0
    )


def test_a_balanced_raw_transaction_passes_the_same_check(posted: Posted) -> None:
    # given a header with entries summing to zero over three legs, when the
    # deferred checks run, then nothing is refused
    ids: list[int] = []
    _post_raw(
        [(posted.wallet_id, 5), (posted.issuance_id, -3), (posted.issuance_id, -2)],
        check_now=True,
        ids=ids,
    )
    tx_id = ids[0]
    assert scalar(
        "SELECT sum(amount) FROM public.ledger_entry WHERE transaction_id = %s", [tx_id]
    ) == (0)


def test_an_unbalanced_transaction_is_refused_at_a_real_commit(
    live_db: None, partner_a: Partner
) -> None:
    assert_on_test_database()
    # given committed data: a partner's issuance account
    services.partner_accounts_ensure(partner_a.pk)
    issuance = int(
        scalar(
            "SELECT id FROM public.ledger_account WHERE partner_id = %s AND kind = 'issuance'",
            [partner_a.pk],
        )
    )
    tx_ids: list[int] = []
    try:
        # when a transaction with one lone entry commits
        with pytest.raises(IntegrityError, match="does not balance"):
            _post_raw([(issuance, -7)], check_now=False, ids=tx_ids)
        # then the commit fails and nothing of it was stored
        assert scalar("SELECT count(*) FROM public.ledger_transaction WHERE id = %s", tx_ids) == 0
    finally:
        if tx_ids and scalar(
            "SELECT count(*) FROM public.ledger_transaction WHERE id = %s", tx_ids
        ):
            # only if the check failed to fire: do not leave the shared journal broken
            with transaction.atomic():
                execute("SET LOCAL session_replication_role = replica")
                execute("DELETE FROM public.ledger_entry WHERE transaction_id = %s", tx_ids)
                execute("DELETE FROM public.ledger_transaction WHERE id = %s", tx_ids)


def test_a_wallet_cannot_go_below_zero_even_with_raw_sql(posted: Posted) -> None:
    # given a wallet holding 60 points
    assert (
        scalar("SELECT balance FROM public.ledger_account WHERE id = %s", [posted.wallet_id]) == 60
    )
    # when its stored balance is set below zero, then the check constraint refuses
    _refused(
        "UPDATE public.ledger_account SET balance = -1 WHERE id = %s",
        [posted.wallet_id],
        "wallet_never_negative",
    )
    assert (
        scalar("SELECT balance FROM public.ledger_account WHERE id = %s", [posted.wallet_id]) == 60
    )


def test_a_hot_partner_account_never_stores_a_balance(posted: Posted) -> None:
    # when a derived-balance account gets a stored balance, then it is refused
    _refused(
        "UPDATE public.ledger_account SET balance = 10 WHERE id = %s",
        [posted.issuance_id],
        "derived_accounts_store_no_balance",
    )


@pytest.mark.parametrize("remaining", ["points + 1", "-1"])
def test_a_lot_keeps_its_remaining_points_between_zero_and_its_points(
    posted: Posted, remaining: str
) -> None:
    # given a lot of 100 points, 60 left (30 burned, 10 on hold)
    assert fetchall(
        "SELECT points, remaining FROM public.ledger_lot WHERE id = %s", [posted.lot_id]
    ) == [(100, 60)]
    # when its remaining points are set out of range, then it is refused
    _refused(
        f"UPDATE public.ledger_lot SET remaining = {remaining} WHERE id = %s",
        [posted.lot_id],
        "lot_remaining_within_points",
    )


def test_an_idempotency_key_is_unique_in_its_scope(posted: Posted) -> None:
    # given a transaction posted with key k1 in scope s
    _insert_header(scope="raw:s", key="k1")
    # when another one uses the same scope and key, then it is refused
    with pytest.raises(IntegrityError, match="ledger_idempotency"), transaction.atomic():
        _insert_header(scope="raw:s", key="k1")
    # while the same key in another scope, and any number without a key, are fine
    with transaction.atomic():
        _insert_header(scope="raw:t", key="k1")
        _insert_header()
        _insert_header()
    assert scalar(
        "SELECT count(*) FROM public.ledger_transaction WHERE idempotency_key = 'k1'"
    ) == (2)


def test_an_entry_of_zero_and_a_negative_headline_are_refused(posted: Posted) -> None:
    # an entry of zero points means nothing and is refused
    _refused(
        "INSERT INTO public.ledger_entry (transaction_id, account_id, amount) VALUES (%s, %s, 0)",
        [posted.earn_id, posted.wallet_id],
        "entry_amount_not_zero",
    )
    # a header's points are never negative
    with pytest.raises(IntegrityError, match="transaction_points_not_negative"):
        _post_raw([], check_now=False, ids=[], points=-5)


def test_a_hold_resolves_consistently(posted: Posted) -> None:
    # a hold cannot capture more than it holds
    _refused(
        "UPDATE public.ledger_hold SET status = 'captured', captured_points = points + 1, "
        "resolved_at = now() WHERE id = %s",
        [posted.hold_id],
        "hold_capture_within_points",
    )
    # and cannot leave pending without saying when it was resolved
    _refused(
        "UPDATE public.ledger_hold SET status = 'voided' WHERE id = %s",
        [posted.hold_id],
        "hold_resolution_consistent",
    )
    assert fetchall(
        "SELECT status, captured_points FROM public.ledger_hold WHERE id = %s", [posted.hold_id]
    ) == [("pending", 0)]
