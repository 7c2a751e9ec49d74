"""A campaign's budget is never overspent: one purchase is clipped to what is
left, 16 concurrent purchases racing for the last points share exactly what was
left, no more, and many purchases spread over the budget's buckets issue exactly
what they were granted. A purchase taking from its member's bucket does not wait
for another member's purchase holding another bucket."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.verification import verify
from tenants.earning import services as earning
from tenants.earning.budgets import BUCKETS
from tenants.earning.models import Campaign, CampaignBudgetBucket, RuleSetVersion
from tenants.earning.selectors import campaign_issued_points
from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tenants.purchases.models import Purchase
from tenants.purchases.services import PurchaseResult, ReceiptLine, purchase_record
from tests.testkit import assert_on_test_database, in_partner
from tests.testkit.concurrency import books_report, run_threads, wallet_state
from tests.testkit.earning import new_member, publish, receipt, uid

RACERS = 16


@pytest.fixture(autouse=True)
def _only_on_the_test_database(request: pytest.FixtureRequest) -> None:
    if "live_db" in request.fixturenames:
        assert_on_test_database()


@pytest.fixture(scope="module")
def race_partner(django_db_setup: Any, django_db_blocker: Any) -> Partner:
    """A partner of its own (committed data is never flushed: its rules and
    campaigns must not leak into other tests' partners)."""
    with django_db_blocker.unblock():
        assert_on_test_database()
        partner = partner_onboard(
            name="Race Grocers",
            slug=f"race-{uuid.uuid4().hex[:10]}",
            default_currency="EUR",
            activate=True,
        )
        connection.set_schema_to_public()
        return partner


def _double_points_campaign(now: datetime, *, budget: int) -> Campaign:
    """A base rate of 1 point per EUR and a running x2 campaign with ``budget``
    (call inside the partner)."""
    publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
    return earning.campaign_create(
        name="double", kind="multiplier", params={"multiplier": "2"},
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
        budget_points=budget,
    )  # fmt: skip


def test_one_purchase_gets_only_what_is_left_of_the_budget(db: None, partner_a: Partner) -> None:
    # given a x2 campaign with a 30-point budget
    now = timezone.now()
    with in_partner(partner_a):
        campaign = _double_points_campaign(now, budget=30)
        # when three 20-point purchases are recorded one after another
        results = [
            purchase_record(
                receipt(new_member().pk, now, ReceiptLine("A", "food", 2, 1000)), now=now
            )
            for _ in range(3)
        ]
        issued = campaign_issued_points(campaign.pk)
    # then the first gets its 20 extra, the second the 10 left, the third none
    assert [r.campaign_points for r in results] == [20, 10, 0]
    assert [r.points for r in results] == [40, 30, 20]
    assert issued == campaign.budget_points == 30


def _statement_starts(queries: CaptureQueriesContext) -> list[str]:
    return [" ".join(q["sql"].split()[:3]) for q in queries.captured_queries]


def test_a_covered_budget_take_travels_with_the_earn_and_a_short_one_is_undone(
    db: None, partner_a: Partner
) -> None:
    # given a x2 campaign whose budget gives each bucket 20 points
    now = timezone.now()
    with in_partner(partner_a):
        campaign = _double_points_campaign(now, budget=20 * BUCKETS)
        member = new_member().pk
        # when a member's first 15-point purchase wants 15 campaign points
        with CaptureQueriesContext(connection) as first_queries:
            first = purchase_record(
                receipt(member, now, ReceiptLine("A", "food", 1, 1500)), now=now
            )
        # and their second wants 15 more, of which their bucket has 5 left
        with CaptureQueriesContext(connection) as second_queries:
            second = purchase_record(
                receipt(member, now, ReceiptLine("B", "food", 1, 1500)), now=now
            )
        issued = campaign_issued_points(campaign.pk)
        purchases = Purchase.objects.filter(member_id=member).count()
    # then the first's take was the gate of its earn: one statement, no savepoint,
    # nothing rolled back
    first_sent = _statement_starts(first_queries)
    assert sum(sql.startswith("[driver] WITH gate") for sql in first_sent) == 1
    assert not any("budget_take" in sql or "ROLLBACK" in sql for sql in first_sent)
    assert (first.campaign_points, first.points) == (15, 30)
    # and the second's gated earn found its bucket short: its transaction rolled
    # back, and the purchase was recorded again taking the budget in turn (its
    # bucket's 5, then other buckets) before one earn of what it gave
    second_sent = _statement_starts(second_queries)
    gated = second_sent.index("[driver] WITH gate")
    assert second_sent[gated + 1].startswith("ROLLBACK")  # the whole purchase
    assert "[driver] SAVEPOINT budget_take" in second_sent[gated + 1 :]
    assert (second.campaign_points, second.points) == (15, 30)
    assert issued == 30
    assert ledger_selectors.balance(member) == 60
    assert len(ledger_selectors.lots(member)) == purchases == 2


def test_two_budgeted_campaigns_are_taken_in_turn_each_clipped(
    db: None, partner_a: Partner
) -> None:
    # given a x2 campaign with plenty of budget and a 5-point bonus with 7 left
    now = timezone.now()
    with in_partner(partner_a):
        double = _double_points_campaign(now, budget=10_000)
        bonus = earning.campaign_create(
            name=uid("bonus"), kind="bonus", params={"points": 5},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
            budget_points=7,
        )  # fmt: skip
        # when two purchases each want 10 doubled points and the 5-point bonus
        results = []
        sent = []
        for sku in ("A", "B"):
            with CaptureQueriesContext(connection) as queries:
                results.append(
                    purchase_record(
                        receipt(new_member().pk, now, ReceiptLine(sku, "food", 1, 1000)), now=now
                    )
                )
            sent.append(_statement_starts(queries))
        issued = (campaign_issued_points(double.pk), campaign_issued_points(bonus.pk))
    # then each campaign's budget was taken in turn (no gated earn, two takes each),
    assert all(not any(sql.startswith("[driver] WITH gate") for sql in s) for s in sent)
    assert [s.count("[driver] SAVEPOINT budget_take") for s in sent] == [2, 2]
    # the first got both in full, the second the bonus's last 2 points
    assert [r.campaign_points for r in results] == [15, 12]
    assert [r.points for r in results] == [25, 22]
    assert issued == (20, 7)


def test_concurrent_purchases_never_overspend_the_budget(
    live_db: None, race_partner: Partner
) -> None:
    # given a x2 campaign with a 100-point budget, 91 points of it already issued
    now = timezone.now()
    with in_partner(race_partner):
        campaign = _double_points_campaign(now, budget=100)
        opener = purchase_record(
            receipt(new_member("race").pk, now, ReceiptLine("TV", "electronics", 1, 9100)),
            now=now,
        )
    assert opener.campaign_points == 91
    members = [new_member("race").pk for _ in range(RACERS)]
    barrier = threading.Barrier(RACERS)

    def buy(index: int) -> PurchaseResult:
        with tenant_context(race_partner):
            return purchase_record(
                receipt(members[index], now, ReceiptLine("A", "food", 1, 500)), now=now
            )

    # when 16 members each buy 5.00 at the same instant, each wanting 5 campaign
    # points, racing for the last 9
    outcomes = run_threads(RACERS, buy, barrier=barrier)

    # then every purchase is recorded with its rule points
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert not errors, errors
    results: list[PurchaseResult] = [outcome.value for outcome in outcomes]
    assert all(result.rule_points == 5 for result in results)
    # and the campaign issued exactly its budget, never more
    with in_partner(race_partner):
        issued = campaign_issued_points(campaign.pk)
        stored = {
            purchase.pk: purchase.breakdown["campaign_points"].get(str(campaign.pk), 0)
            for purchase in Purchase.objects.all()
        }
    assert issued == campaign.budget_points == 100
    # and the campaign points granted to the purchases add up to what it issued
    granted = [result.campaign_points for result in results]
    assert opener.campaign_points + sum(granted) == issued
    assert sorted(granted) == [0] * (RACERS - 2) + [4, 5]
    assert sum(stored.values()) == issued
    # and each member holds exactly the points of their purchase, books balanced
    for member_id, result in zip(members, results, strict=True):
        assert ledger_selectors.balance(member_id) == result.points
        balance, entries, lots = wallet_state(member_id)
        assert balance == entries == lots
    books = books_report()
    assert (books.unbalanced_transactions, books.grand_total, books.negative_wallets) == ([], 0, 0)
    report = verify()
    assert report.ok, report.problems


def test_a_budget_bucket_refuses_issuing_past_its_share(db: None, partner_a: Partner) -> None:
    # given a budgeted campaign: its budget is shared out over its buckets
    now = timezone.now()
    with in_partner(partner_a):
        campaign = earning.campaign_create(
            name="capped", kind="bonus", params={"points": 5},
            starts_at=now, ends_at=now + timedelta(hours=1), budget_points=100,
        )  # fmt: skip
        buckets = CampaignBudgetBucket.objects.filter(campaign=campaign)
        assert sum(b.allotted for b in buckets) == 100
        assert {b.allotted for b in buckets} == {100 // BUCKETS, 100 // BUCKETS + 1}
        # when a bucket's counter is pushed past its share directly
        # then the database itself refuses it (the last line of defence)
        first = buckets.order_by("bucket").first()
        assert first is not None
        with pytest.raises(IntegrityError), transaction.atomic():
            buckets.filter(pk=first.pk).update(issued=first.allotted + 1)


@contextmanager
def _bonus_campaign(partner: Partner, now: datetime, budget: int) -> Iterator[Campaign]:
    """A running 7-point bonus with a budget, ended afterwards (committed data is
    never flushed: it must not give points in later tests)."""
    with in_partner(partner):
        if not RuleSetVersion.objects.filter(published_at__isnull=False).exists():
            publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        campaign = earning.campaign_create(
            name=uid("bonus"), kind="bonus", params={"points": 7},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
            budget_points=budget,
        )  # fmt: skip
    try:
        yield campaign
    finally:
        with in_partner(partner):
            Campaign.objects.filter(pk=campaign.pk).update(status="ended")


def test_a_purchase_does_not_wait_for_another_bucket_of_the_budget(
    live_db: None, race_partner: Partner
) -> None:
    # given a campaign with plenty of budget, and two members in different buckets
    now = timezone.now()
    first = new_member("race")
    second = new_member("race")
    while second.pk % BUCKETS == first.pk % BUCKETS:
        second = new_member("race")
    taken, done = threading.Event(), threading.Event()
    outcomes: list[PurchaseResult] = []

    def hold() -> None:
        # the first member's purchase took its bucket and stays uncommitted
        try:
            with tenant_context(race_partner), transaction.atomic():
                outcomes.append(purchase_record(receipt(first.pk, now), now=now))
                taken.set()
                done.wait(timeout=60)
        finally:
            connection.close()

    with _bonus_campaign(race_partner, now, 1_000_000) as campaign:
        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        assert taken.wait(timeout=60)
        try:
            # when the second member buys meanwhile (waiting for the first purchase's
            # locks would fail after 10 s rather than hang)
            with in_partner(race_partner), connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '10s'")
                try:
                    second_result = purchase_record(receipt(second.pk, now), now=now)
                finally:
                    cursor.execute("RESET lock_timeout")
        finally:
            done.set()
            holder.join(timeout=60)
        # then it got its campaign points without waiting for the first to commit,
        # and both are counted
        assert second_result.campaign_points == 7
        assert [o.campaign_points for o in outcomes] == [7]
        with in_partner(race_partner):
            assert campaign_issued_points(campaign.pk) == 14


@pytest.mark.parametrize("budget", [1_000, 150])
def test_many_concurrent_purchases_issue_exactly_what_they_were_granted(
    live_db: None, race_partner: Partner, budget: int
) -> None:
    # given a 7-point bonus with a budget that covers all of the purchases below
    # (1,000), or not (150: the last buckets run dry and purchases take from
    # the others)
    now = timezone.now()
    members = [new_member("race").pk for _ in range(RACERS)]

    def buy(index: int) -> list[int]:
        with tenant_context(race_partner):
            return [
                purchase_record(receipt(members[index], now), now=now).campaign_points
                for _ in range(2)
            ]

    # when 16 members buy twice each at the same time
    with _bonus_campaign(race_partner, now, budget) as campaign:
        outcomes = run_threads(RACERS, buy, barrier=threading.Barrier(RACERS))

    # then every purchase is recorded, and the campaign issued exactly what the
    # purchases were granted, never past the budget
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert not errors, errors
    granted = [points for outcome in outcomes for points in outcome.value]
    with in_partner(race_partner):
        issued = campaign_issued_points(campaign.pk)
        buckets = list(CampaignBudgetBucket.objects.filter(campaign=campaign))
    assert issued == sum(granted) == min(budget, 7 * 2 * RACERS)
    assert all(0 <= b.issued <= b.allotted for b in buckets)
    # and a purchase got less than it wanted only once the budget was spent
    assert sorted(granted, reverse=True)[: issued // 7] == [7] * (issued // 7)
    report = verify()
    assert report.ok, report.problems
