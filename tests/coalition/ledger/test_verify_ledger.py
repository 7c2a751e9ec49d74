"""`loyalty verify-ledger` proves the books intact and names what was tampered with.

Tampering is done as a superuser would: with ``session_replication_role =
replica`` the append-only triggers do not fire. The committed tests repair what
they altered (in ``finally``), because the test database is shared by every
test that verifies the whole journal.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction

from coalition.ledger import chain, services
from coalition.ledger.services import Posting
from coalition.ledger.verification import VerificationReport, verify
from coalition.members.services import member_enrol
from tenants.partners.models import Partner
from tests.testkit import (
    PROJECT_ROOT,
    assert_on_test_database,
    database_url_of,
    subprocess_env,
)
from tests.testkit.ledger import execute, scalar


def _member() -> int:
    return member_enrol(email=f"verify-{uuid.uuid4().hex[:12]}@example.com").pk


def _verify_command(*args: str) -> subprocess.CompletedProcess[str]:
    """`loyalty verify-ledger` in a child process, on the test database."""
    return subprocess.run(
        [sys.executable, "-m", "loyalty_platform.cli", "verify-ledger", *args],
        cwd=PROJECT_ROOT,
        env=subprocess_env(DATABASE_URL=database_url_of(connection.settings_dict), DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _as_superuser(sql: str, params: list[object]) -> None:
    """One committed change with the ledger's triggers off (replica role)."""
    with transaction.atomic():
        execute("SET LOCAL session_replication_role = replica")
        execute(sql, params)


@contextmanager
def _tampered(apply: str, restore: str, params: list[object]) -> Iterator[None]:
    _as_superuser(apply, params)
    try:
        yield
    finally:
        _as_superuser(restore, params)


def _some_history(partner_a: Partner, partner_b: Partner) -> tuple[int, int, Posting]:
    """Two members and a bit of everything; returns them and an earn (ann's last
    wallet movement) to tamper with."""
    ann, bob = _member(), _member()
    services.earn(member_id=ann, partner_id=partner_a.pk, points=400)
    services.burn(member_id=ann, partner_id=partner_b.pk, points=120)
    hold = services.hold_authorize(member_id=ann, partner_id=partner_b.pk, points=50)
    services.hold_capture(hold_id=int(hold.result["hold"]), points=20)
    services.transfer(from_member_id=ann, to_member_id=bob, points=70)
    bob_earn = services.earn(member_id=bob, partner_id=partner_b.pk, points=30)
    services.reverse(transaction_id=bob_earn.transaction_id, points=10)
    last = services.earn(member_id=ann, partner_id=partner_b.pk, points=90)
    return ann, bob, last


def _wallet_entry(posting: Posting) -> int:
    return int(
        scalar(
            """
            SELECT e.id FROM public.ledger_entry e
              JOIN public.ledger_account a ON a.id = e.account_id
             WHERE e.transaction_id = %s AND a.kind = 'wallet'
            """,
            [posting.transaction_id],
        )
    )


def _names(report: VerificationReport, tx_id: int) -> bool:
    return any(f"transaction {tx_id}" in problem for problem in report.problems)


# --- committed data, checked by the service and the command ---------------------------


def test_an_intact_ledger_verifies(live_db: None, partner_a: Partner, partner_b: Partner) -> None:
    assert_on_test_database()
    # given committed postings of every kind, sealed into the hash chain
    _some_history(partner_a, partner_b)
    assert chain.seal_all() > 0
    # when the ledger is verified, then it is intact and every sealed link was walked
    report = verify()
    assert report.ok, report.problems
    assert report.sealed == scalar("SELECT count(*) FROM public.ledger_chainlink") > 0
    # and the command says so and exits 0 (sealing what is pending first)
    _some_history(partner_a, partner_b)
    result = _verify_command("--seal-first")
    assert result.returncode == 0, result.stderr
    assert "Ledger intact" in result.stdout
    assert scalar(
        """
        SELECT count(*) FROM public.ledger_transaction t
         WHERE NOT EXISTS (SELECT 1 FROM public.ledger_chainlink c WHERE c.transaction_id = t.id)
        """
    ) == (0)


def test_an_altered_entry_is_found_and_named(
    live_db: None, partner_a: Partner, partner_b: Partner
) -> None:
    assert_on_test_database()
    # given a sealed, intact ledger
    _, _, earned = _some_history(partner_a, partner_b)
    chain.seal_all()
    assert verify().ok
    entry = _wallet_entry(earned)
    # when a superuser adds 1 point to one entry, behind the triggers' back
    with _tampered(
        "UPDATE public.ledger_entry SET amount = amount + 1 WHERE id = %s",
        "UPDATE public.ledger_entry SET amount = amount - 1 WHERE id = %s",
        [entry],
    ):
        # then verify fails, naming that transaction first: its entries no longer
        # balance, the wallet differs from its entries, and the chain hash breaks
        report = verify()
        assert not report.ok
        assert report.first_broken_transaction == earned.transaction_id
        assert f"transaction {earned.transaction_id}: entries sum to 1, not 0" in report.problems
        assert any("all entries together sum to 1" in problem for problem in report.problems)
        assert any("does not match its sealed hash" in problem for problem in report.problems)
        # and so does the command: non-zero exit, the transaction named
        result = _verify_command()
        assert result.returncode == 1, result.stdout
        assert f"First broken transaction: {earned.transaction_id}" in result.stderr
    # once repaired, the ledger verifies again
    assert verify().ok


def test_consistently_altered_legs_still_balance_but_are_found(
    live_db: None, partner_a: Partner, partner_b: Partner
) -> None:
    assert_on_test_database()
    # given a sealed ledger and an earn of 90 (ann's last wallet movement)
    _, _, earned = _some_history(partner_a, partner_b)
    chain.seal_all()
    # when a superuser makes it 95 on both legs, so that its entries still sum to zero
    with _tampered(
        """
        UPDATE public.ledger_entry SET amount = amount + sign(amount) * 5
         WHERE transaction_id = %s
        """,
        """
        UPDATE public.ledger_entry SET amount = amount - sign(amount) * 5
         WHERE transaction_id = %s
        """,
        [earned.transaction_id],
    ):
        assert scalar(
            "SELECT sum(amount) FROM public.ledger_entry WHERE transaction_id = %s",
            [earned.transaction_id],
        ) == (0)
        # then verify still fails: the stored wallet balance differs from its
        # entries, and the sealed hash of that transaction no longer matches
        report = verify()
        assert not report.ok
        assert not any("not 0" in problem for problem in report.problems), report.problems
        assert any("stored balance" in problem for problem in report.problems)
        assert f"transaction {earned.transaction_id} does not match its sealed hash" in " ".join(
            report.problems
        )
        assert report.first_broken_transaction == earned.transaction_id
        result = _verify_command()
        assert result.returncode == 1
        assert f"transaction {earned.transaction_id} does not match its sealed hash" in (
            result.stderr
        )
    assert verify().ok


def test_an_altered_header_is_found_by_the_hash_chain_alone(
    live_db: None, partner_a: Partner, partner_b: Partner
) -> None:
    assert_on_test_database()
    # given a sealed ledger
    _, _, earned = _some_history(partner_a, partner_b)
    chain.seal_all()
    # when a superuser changes a header's points (no balance depends on them)
    with _tampered(
        "UPDATE public.ledger_transaction SET points = points + 1000 WHERE id = %s",
        "UPDATE public.ledger_transaction SET points = points - 1000 WHERE id = %s",
        [earned.transaction_id],
    ):
        # then only the hash chain can tell, and it names the transaction
        report = verify()
        assert len(report.problems) == 1, report.problems
        assert _names(report, earned.transaction_id)
        assert report.first_broken_transaction == earned.transaction_id
        result = _verify_command()
        assert result.returncode == 1
        assert f"First broken transaction: {earned.transaction_id}" in result.stderr
    assert verify().ok


def test_a_transaction_committed_after_later_ones_were_sealed_is_sealed_later(
    live_db: None, partner_a: Partner
) -> None:
    assert_on_test_database()
    # given committed accounts (a writer's open transaction must not hold their rows)
    services.forget_known_accounts()
    services.partner_accounts_ensure(partner_a.pk)
    slow_member, quick_member = _member(), _member()
    chain.seal_all()
    started, release = threading.Event(), threading.Event()
    slow: list[int] = []
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                posting = services.earn(member_id=slow_member, partner_id=partner_a.pk, points=11)
                slow.append(posting.transaction_id)
                started.set()
                release.wait(60)
        except BaseException as exc:
            errors.append(exc)
            started.set()
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer, daemon=True)
    thread.start()
    try:
        assert started.wait(60)
        assert not errors, errors
        # when a later transaction (higher id) commits first and is sealed
        quick = services.earn(member_id=quick_member, partner_id=partner_a.pk, points=12)
        assert quick.transaction_id > slow[0]
        chain.seal_all()
        sealed = "SELECT position FROM public.ledger_chainlink WHERE transaction_id = %s"
        quick_position = int(scalar(sealed, [quick.transaction_id]))
        assert scalar(f"SELECT count(*) FROM ({sealed}) s", [slow[0]]) == 0
    finally:
        # and only then the earlier one commits
        release.set()
        thread.join(60)
    assert not errors, errors
    # then the next seal appends it to the chain after the later one, and all verifies
    assert chain.seal_all() >= 1
    assert int(scalar(sealed, [slow[0]])) > quick_position
    report = verify()
    assert report.ok, report.problems


# --- in the test transaction (rolled back): edits any SQL user could make -------------


@pytest.fixture
def _fresh_account_cache() -> Iterator[None]:
    services.forget_known_accounts()
    yield
    services.forget_known_accounts()


@pytest.mark.usefixtures("_fresh_account_cache")
def test_an_edited_wallet_balance_or_lot_is_found(db: None, partner_a: Partner) -> None:
    # given a member with 100 points in one lot
    member = _member()
    earned = services.earn(member_id=member, partner_id=partner_a.pk, points=100)
    assert verify().ok
    # when the stored balance is edited (a plain UPDATE, no trigger guards it)
    with transaction.atomic():
        execute(
            "UPDATE public.ledger_account SET balance = balance + 5 "
            "WHERE member_id = %s AND kind = 'wallet'",
            [member],
        )
        # then verify finds the wallet off its entries and off its lots
        report = verify()
        assert any("stored balance 105, entries sum to 100" in p for p in report.problems)
        assert any(f"member {member}: wallet 105, lots hold 100" in p for p in report.problems)
        transaction.set_rollback(True)
    # when a lot's remaining points are edited
    with transaction.atomic():
        execute(
            "UPDATE public.ledger_lot SET remaining = remaining - 1 WHERE id = %s",
            [earned.result["lot"]],
        )
        # then verify finds the lot off its movements, naming the earn
        report = verify()
        assert any(f"lot {earned.result['lot']}: remaining 99" in p for p in report.problems)
        assert report.first_broken_transaction == earned.transaction_id
        transaction.set_rollback(True)
    assert verify().ok
