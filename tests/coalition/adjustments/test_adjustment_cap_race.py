"""The daily adjustment cap holds under concurrency: eight adjustments by one
partner at once (committed data, one connection per thread) never pass it
together."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from coalition.adjustments import services as adjustments
from coalition.adjustments.errors import AdjustmentCapReached
from coalition.adjustments.models import Adjustment
from coalition.adjustments.selectors import cap_today
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.verification import verify
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner
from tests.testkit import assert_on_test_database
from tests.testkit.concurrency import books_report, run_threads, unique_member

ADJUSTMENTS = 8


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


def test_eight_concurrent_adjustments_stay_within_the_daily_cap(
    live_db: None, partner_a: Partner, settings: Any
) -> None:
    assert_on_test_database()
    # given: whatever committed adjustments count today, room for three more of 100
    used = cap_today(partner_a).used
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = used + 350
    members = [unique_member("adjust-race") for _ in range(ADJUSTMENTS)]
    barrier = threading.Barrier(ADJUSTMENTS)

    # when: eight adjustments of 100 points are made at the same moment
    def adjust(index: int) -> Any:
        return adjustments.adjust_points(
            partner=partner_a,
            member=members[index],
            points=100,
            reason="race",
            actor="tester",
            idempotency=IdempotencyKey("test:adjust-race", uuid.uuid4().hex),
        )

    outcomes = run_threads(ADJUSTMENTS, adjust, barrier=barrier)

    # then: exactly three fit under the cap; the five others are refused (typed)
    done = [outcome for outcome in outcomes if outcome.error is None]
    refused = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert len(done) == 3, [repr(error) for error in refused]
    assert all(isinstance(error, AdjustmentCapReached) for error in refused), [
        repr(error) for error in refused
    ]
    assert cap_today(partner_a).used == used + 300
    assert Adjustment.objects.filter(member__in=members).count() == 3
    balances = sorted(ledger_selectors.balance(member.pk) for member in members)
    assert balances == [0] * 5 + [100] * 3
    report = books_report()
    assert report.unbalanced_transactions == []
    assert report.wallets_off_entries == []
    assert report.wallets_off_lots == []
    assert verify().ok
