"""A yearly transfer cap holds under concurrency: 8 transfers from one sender at
once (committed data, one connection per thread) never exceed it together."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import timedelta

from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Transaction
from coalition.ledger.verification import verify
from coalition.tiers.models import MemberTier, TierLevel
from coalition.transfers import services as transfers
from coalition.transfers.models import TransferCap, TransferRecord
from tenants.partners.models import Partner
from tests.testkit import assert_on_test_database
from tests.testkit.concurrency import books_report, run_threads, unique_member

SENDS = 8


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


def test_eight_concurrent_transfers_from_one_sender_stay_within_the_cap(
    live_db: None, partner_a: Partner
) -> None:
    assert_on_test_database()
    # given: a sender in a tier of this test only whose cap is 350 points a year,
    # with plenty of points, and eight recipients. The tier, its cap and the
    # sender's tier are committed, so they are removed again at the end: a
    # committed cap or tier level would change other tests' rules.
    suffix = uuid.uuid4().hex[:8]
    level = TierLevel.objects.create(
        code=f"race-{suffix}",
        name=f"Race {suffix}",
        rank=random.randint(10_000, 2_000_000_000),
        threshold_points=0,
    )
    cap = TransferCap.objects.create(kind="transfer", tier_code=level.code, yearly_points=350)
    sender = unique_member("cap-sender")
    recipients = [unique_member("cap-recipient") for _ in range(SENDS)]
    now = timezone.now()
    tier = MemberTier.objects.create(
        member=sender, level=level, achieved_at=now, review_at=now + timedelta(days=365)
    )
    try:
        ledger.earn(member_id=sender.pk, partner_id=partner_a.pk, points=5000)
        barrier = threading.Barrier(SENDS)

        # when: eight transfers of 100 points leave at the same moment
        def send(index: int) -> TransferRecord:
            return transfers.points_transfer(
                from_member_id=sender.pk, to_member_id=recipients[index].pk, points=100
            )

        outcomes = run_threads(SENDS, send, barrier=barrier)

        # then: exactly three fit under the cap; the five others are refused (typed)
        done = [outcome for outcome in outcomes if outcome.error is None]
        refused = [outcome.error for outcome in outcomes if outcome.error is not None]
        assert len(done) == 3, [repr(error) for error in refused]
        assert all(isinstance(error, transfers.TransferCapExceeded) for error in refused), [
            repr(error) for error in refused
        ]
        assert transfers.sent_this_year(sender.pk, "transfer", now.year) == 300
        assert TransferRecord.objects.filter(from_member=sender).count() == 3
        assert Transaction.objects.filter(member_id=sender.pk, kind="transfer").count() == 3
        assert ledger_selectors.balance(sender.pk) == 4700
        received = sorted(ledger_selectors.balance(member.pk) for member in recipients)
        assert received == [0] * 5 + [100] * 3
        report = books_report()
        assert report.unbalanced_transactions == []
        assert report.wallets_off_entries == []
        assert report.wallets_off_lots == []
        assert verify().ok
    finally:
        tier.delete()
        cap.delete()
        level.delete()
