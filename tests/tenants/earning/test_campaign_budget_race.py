"""A campaign's budget is never overspent: one purchase is clipped to what is
left, and 16 concurrent purchases racing for the last points share exactly what
was left, no more."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.verification import verify
from tenants.earning import services as earning
from tenants.earning.models import Campaign
from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tenants.purchases.models import Purchase
from tenants.purchases.services import PurchaseResult, ReceiptLine, purchase_record
from tests.testkit import assert_on_test_database, in_partner
from tests.testkit.concurrency import books_report, run_threads, wallet_state
from tests.testkit.earning import new_member, publish, receipt

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


def test_one_purchase_gets_only_what_is_left_of_the_budget(db: None, partner_a: Partner) -> None:
    # given a x2 campaign with a 30-point budget
    now = timezone.now()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        campaign = earning.campaign_create(
            name="double", kind="multiplier", params={"multiplier": "2"},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
            budget_points=30,
        )  # fmt: skip
        # when three 20-point purchases are recorded one after another
        results = [
            purchase_record(
                receipt(new_member().pk, now, ReceiptLine("A", "food", 2, 1000)), now=now
            )
            for _ in range(3)
        ]
        campaign.refresh_from_db()
    # then the first gets its 20 extra, the second the 10 left, the third none
    assert [r.campaign_points for r in results] == [20, 10, 0]
    assert [r.points for r in results] == [40, 30, 20]
    assert campaign.issued_points == campaign.budget_points == 30


def test_concurrent_purchases_never_overspend_the_budget(
    live_db: None, race_partner: Partner
) -> None:
    # given a x2 campaign with a 100-point budget, 91 points of it already issued
    now = timezone.now()
    with in_partner(race_partner):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        campaign = earning.campaign_create(
            name="double", kind="multiplier", params={"multiplier": "2"},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
            budget_points=100,
        )  # fmt: skip
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
        campaign.refresh_from_db()
        stored = {
            purchase.pk: purchase.breakdown["campaign_points"].get(str(campaign.pk), 0)
            for purchase in Purchase.objects.all()
        }
    assert campaign.budget_points is not None
    assert campaign.issued_points <= campaign.budget_points
    assert campaign.issued_points == 100
    # and the campaign points granted to the purchases add up to what it issued
    granted = [result.campaign_points for result in results]
    assert opener.campaign_points + sum(granted) == campaign.issued_points
    assert sorted(granted) == [0] * (RACERS - 2) + [4, 5]
    assert sum(stored.values()) == campaign.issued_points
    # and each member holds exactly the points of their purchase, books balanced
    for member_id, result in zip(members, results, strict=True):
        assert ledger_selectors.balance(member_id) == result.points
        balance, entries, lots = wallet_state(member_id)
        assert balance == entries == lots
    books = books_report()
    assert (books.unbalanced_transactions, books.grand_total, books.negative_wallets) == ([], 0, 0)
    report = verify()
    assert report.ok, report.problems


def test_campaign_model_refuses_issuing_past_the_budget(db: None, partner_a: Partner) -> None:
    # given a budgeted campaign, when its counter is pushed past the budget directly
    now = timezone.now()
    with in_partner(partner_a):
        campaign = earning.campaign_create(
            name="capped", kind="bonus", params={"points": 5},
            starts_at=now, ends_at=now + timedelta(hours=1), budget_points=10,
        )  # fmt: skip
        # then the database itself refuses it (the last line of defence)
        with pytest.raises(IntegrityError), transaction.atomic():
            Campaign.objects.filter(pk=campaign.pk).update(issued_points=11)
