"""The tier upgrade check travels with the receipt's insert, before the commit
(one round trip fewer than a check after it). Two purchases of one member at two
partners that cross a threshold only together must still upgrade the member: the
second one's earn waits for the first to commit (both update the member's wallet
row), so its check, a later statement, sees both (committed data, one connection
per thread)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from django_tenants.utils import tenant_context

from coalition.tiers.models import MemberTier, TierChange, TierLevel
from coalition.tiers.selectors import tier_code_of
from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tenants.purchases.services import PurchaseResult, ReceiptLine, purchase_record, recording
from tests.testkit import assert_on_test_database, in_partner
from tests.testkit.earning import new_member, publish, receipt


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` test alone would not make pytest-django create the test database.
    assert_on_test_database()


@pytest.fixture(scope="module")
def two_partners(django_db_setup: Any, django_db_blocker: Any) -> list[Partner]:
    """Partners of their own, 1 point per EUR (committed rules must not leak into
    other tests' partners)."""
    with django_db_blocker.unblock():
        assert_on_test_database()
        partners = []
        now = timezone.now()
        for name in ("Tier Race Grocers", "Tier Race Books"):
            partner = partner_onboard(
                name=name,
                slug=f"tier-race-{uuid.uuid4().hex[:10]}",
                default_currency="EUR",
                activate=True,
            )
            with in_partner(partner):
                publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
            partners.append(partner)
        connection.set_schema_to_public()
        return partners


@pytest.fixture
def levels(live_db: None) -> Iterator[tuple[str, str]]:
    """A first level and one at 100 points, committed; removed afterwards with
    every tier they were given."""
    suffix = uuid.uuid4().hex[:6]
    top = int(TierLevel.objects.aggregate(top=Max("rank"))["top"] or 0)
    first = TierLevel.objects.create(
        code=f"first-{suffix}", name="First", rank=top + 1, threshold_points=0
    )
    upper = TierLevel.objects.create(
        code=f"upper-{suffix}", name="Upper", rank=top + 2, threshold_points=100
    )
    try:
        yield first.code, upper.code
    finally:
        mine = [first.pk, upper.pk]
        TierChange.objects.filter(to_level_id__in=mine).delete()
        MemberTier.objects.filter(level_id__in=mine).delete()
        TierLevel.objects.filter(pk__in=mine).delete()


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def test_two_purchases_crossing_a_threshold_together_upgrade_the_member(
    two_partners: list[Partner], levels: tuple[str, str]
) -> None:
    first_code, upper_code = levels
    grocer, books = two_partners
    now = timezone.now()
    member = new_member("tier-race")
    # given: the member holds the first level with 40 points
    with in_partner(grocer):
        purchase_record(receipt(member.pk, now, ReceiptLine("A", "food", 1, 4000)), now=now)
    assert tier_code_of(member.pk) == first_code

    # and: the first of two purchases (30 points at the grocer) pauses after its
    # check, before its commit
    checks: list[bool] = []
    paused, resume = threading.Event(), threading.Event()
    real_due = recording.tier_upgrade_due

    def due_then_pause(row: Any) -> bool:
        answer = real_due(row)
        checks.append(answer)
        if len(checks) == 1:
            paused.set()
            resume.wait(timeout=30)
        return answer

    results: dict[str, PurchaseResult | BaseException] = {}

    def buy(name: str, partner: Partner) -> None:
        try:
            with tenant_context(partner):
                line = ReceiptLine("B", "food", 1, 3000)
                results[name] = purchase_record(receipt(member.pk, now, line), now=now)
        except BaseException as error:  # reported by the assertions below
            results[name] = error
        finally:
            connection.close()

    with mock.patch.object(recording, "tier_upgrade_due", due_then_pause):
        first = threading.Thread(target=buy, args=("grocer", grocer))
        first.start()
        assert paused.wait(timeout=30)
        # when: the second (30 points at the bookshop) starts meanwhile, and its
        # earn waits for the first to commit
        second = threading.Thread(target=buy, args=("books", books))
        second.start()
        deadline = time.monotonic() + 30
        while _waiting_on_a_lock() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_on_a_lock() >= 1, "the second purchase never waited for the first"
        resume.set()
        first.join(timeout=30)
        second.join(timeout=30)

    # then: both are recorded; the first's check saw 70 points (no upgrade), the
    # second's saw all 100, and the member holds the upper level
    assert all(isinstance(result, PurchaseResult) for result in results.values()), results
    assert checks == [False, True]
    assert tier_code_of(member.pk) == upper_code
