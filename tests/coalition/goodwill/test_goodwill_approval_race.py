"""Two approvers pressing approve on the same proposal at the same moment (two
threads, each its own connection, committed data on real PostgreSQL): the
points are given once, one approver wins and the other is told it was decided."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from coalition.goodwill import services as goodwill
from coalition.goodwill.errors import GoodwillAlreadyDecided
from coalition.goodwill.models import GoodwillProposal, GoodwillStatus
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.models import Lot
from coalition.ledger.verification import verify
from tests.testkit import assert_on_test_database
from tests.testkit.concurrency import books_report, run_threads, unique_member
from tests.testkit.operator import operator


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


def test_two_approvers_at_once_give_the_points_once(live_db: None) -> None:
    assert_on_test_database()
    member = unique_member("goodwill-race")
    proposal = goodwill.goodwill_propose(
        member_id=member.pk, points=5_000, reason="race", acting_user=operator("support"),
        request_key=uuid.uuid4().hex,
    ).proposal  # fmt: skip
    approvers = [operator("admin"), operator("finance")]
    barrier = threading.Barrier(2)

    def approve(index: int) -> Any:
        return goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=approvers[index])

    outcomes = run_threads(2, approve, barrier=barrier)

    done = [outcome for outcome in outcomes if outcome.error is None]
    refused = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert len(done) == 1, [repr(error) for error in refused]
    assert len(refused) == 1
    assert isinstance(refused[0], GoodwillAlreadyDecided), refused
    stored = GoodwillProposal.objects.get(pk=proposal.pk)
    assert stored.status == GoodwillStatus.POSTED
    assert stored.decided_by_id == approvers[done[0].index].pk
    assert ledger_selectors.balance(member.pk) == 5_000
    assert Lot.objects.filter(member=member).count() == 1
    report = books_report()
    assert report.unbalanced_transactions == []
    assert report.wallets_off_lots == []
    assert verify().ok


def test_one_approver_pressing_twice_at_once_gives_the_points_once(live_db: None) -> None:
    assert_on_test_database()
    member = unique_member("goodwill-twice")
    proposal = goodwill.goodwill_propose(
        member_id=member.pk, points=3_000, reason="twice", acting_user=operator("support"),
        request_key=uuid.uuid4().hex,
    ).proposal  # fmt: skip
    admin = operator("admin")
    barrier = threading.Barrier(2)

    outcomes = run_threads(
        2,
        lambda _: goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=admin),
        barrier=barrier,
    )

    assert [outcome.error for outcome in outcomes] == [None, None]
    assert sorted(outcome.value.replayed for outcome in outcomes) == [False, True]
    assert ledger_selectors.balance(member.pk) == 3_000
