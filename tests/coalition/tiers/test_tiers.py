"""Tiers: upgrades at once when an earn crosses a threshold, qualification adds up
across partners, downgrades only at the review and after a grace period, for both
the rolling-12-months and the calendar-year policies.

Ledger transactions carry the database's ``now()`` (inside a ``db`` test: the
test transaction's start), so every ``now=`` below is relative to real now.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.ledger.models import Transaction
from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.tiers import services as tier_services
from coalition.tiers.models import (
    MemberTier,
    QualificationPeriod,
    TierChange,
    TierLevel,
    TierPolicy,
)
from coalition.tiers.selectors import qualifying_points, tier_code_of
from coalition.tiers.services import (
    tier_evaluate,
    tier_status,
    tier_upgrade_if_due,
    tiers_review,
)
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.purchases.services import Receipt, ReceiptLine, purchase_record
from tests.testkit import in_partner

GRACE_DAYS = 30


@pytest.fixture
def levels(db: None) -> dict[str, TierLevel]:
    """Four levels: blue (entry), silver 1000, gold 5000, platinum 20000."""
    return {
        code: TierLevel.objects.create(code=code, name=code.title(), rank=rank, threshold_points=t)
        for rank, (code, t) in enumerate(
            [("blue", 0), ("silver", 1000), ("gold", 5000), ("platinum", 20000)]
        )
    }


def _policy(qualification: str) -> TierPolicy:
    return TierPolicy.objects.create(qualification=qualification, grace_days=GRACE_DAYS)


def _member() -> Member:
    return member_enrol(email=f"tier-{uuid.uuid4().hex[:12]}@example.com")


def _earn(member: Member, partner: Partner, points: int) -> int:
    return ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points).transaction_id


def _changes(member: Member) -> list[tuple[str | None, str, int]]:
    return [
        (change.from_level.code if change.from_level else None, change.to_level.code,
         change.qualifying_points)
        for change in TierChange.objects.filter(member=member).order_by("changed_at", "id")
    ]  # fmt: skip


def _db_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        value: datetime = cursor.fetchone()[0]
    return value


# --- upgrades ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "qualification", [QualificationPeriod.ROLLING_12_MONTHS, QualificationPeriod.CALENDAR_YEAR]
)
def test_the_upgrade_check_after_an_earn_locks_only_when_something_changes(
    levels: dict[str, TierLevel], partner_a: Partner, qualification: str
) -> None:
    # given a member without a tier, under either policy
    _policy(qualification)
    member = _member()
    # when points land and the check runs: the entry level is given at once
    _earn(member, partner_a, 500)
    tier_upgrade_if_due(member_id=member.pk, now=_db_now())
    assert tier_code_of(member.pk) == "blue"
    # and an earn that stays below silver looks, but evaluates (locks) nothing
    _earn(member, partner_a, 499)
    with mock.patch.object(tier_services, "tier_evaluate") as evaluate:
        tier_upgrade_if_due(member_id=member.pk, now=_db_now())
    evaluate.assert_not_called()
    # and the earn that crosses silver upgrades at once
    _earn(member, partner_a, 1)
    tier_upgrade_if_due(member_id=member.pk, now=_db_now())
    assert tier_code_of(member.pk) == "silver"
    assert _changes(member) == [(None, "blue", 500), ("blue", "silver", 1000)]


def test_earn_crossing_a_threshold_upgrades_at_once(
    levels: dict[str, TierLevel], partner_a: Partner
) -> None:
    # given a member with 999 points (blue)
    _policy(QualificationPeriod.ROLLING_12_MONTHS)
    member = _member()
    now = timezone.now()
    _earn(member, partner_a, 999)
    assert tier_evaluate(member_id=member.pk, now=now) is not None
    assert tier_code_of(member.pk) == "blue"
    # when one more point is earned, then the member is silver at once
    _earn(member, partner_a, 1)
    tier_evaluate(member_id=member.pk, now=now)
    assert tier_code_of(member.pk) == "silver"
    # and an earn that jumps two levels lands on the highest reached (platinum)
    _earn(member, partner_a, 19_000)
    tier = tier_evaluate(member_id=member.pk, now=now)
    assert tier is not None
    assert tier.level.code == "platinum"
    assert tier.review_at == now + timedelta(days=365)
    assert tier.grace_until is None
    # and every change is recorded with the qualifying points
    assert _changes(member) == [
        (None, "blue", 999),
        ("blue", "silver", 1000),
        ("silver", "platinum", 20000),
    ]
    reasons = list(TierChange.objects.filter(member=member).values_list("reason", flat=True))
    assert all(reason for reason in reasons)


def test_purchase_crossing_a_threshold_upgrades_at_once(
    levels: dict[str, TierLevel], partner_a: Partner
) -> None:
    # given a blue member and 1 point per EUR at alpha
    _policy(QualificationPeriod.ROLLING_12_MONTHS)
    member = _member()
    now = timezone.now()
    with in_partner(partner_a):
        version = earning.ruleset_draft_create()
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=version, effective_from=now, now=now)
        line = ReceiptLine("TV", "electronics", 1, 120_000)
        # when a 1200.00 EUR purchase is recorded
        purchase_record(
            Receipt(f"T-{uuid.uuid4().hex}", member.pk, now, "EUR", (line,), 120_000), now=now
        )
    # then the member is silver straight away
    assert tier_code_of(member.pk) == "silver"
    assert tier_status(member.pk).qualifying_points == 1200


def test_purchase_upgrades_even_when_its_ledger_transaction_starts_after_now(
    levels: dict[str, TierLevel], partner_a: Partner
) -> None:
    # given a request that arrived (``now``) a moment before its database
    # transaction began, as every real request does: the earn's created_at (the
    # database's now()) is then later than the service's ``now``
    _policy(QualificationPeriod.ROLLING_12_MONTHS)
    member = _member()
    arrived = _db_now() - timedelta(seconds=1)
    with in_partner(partner_a):
        version = earning.ruleset_draft_create()
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=version, effective_from=arrived, now=arrived)
        line = ReceiptLine("TV", "electronics", 1, 600_000)
        # when a 6000.00 EUR purchase is recorded
        result = purchase_record(
            Receipt(f"T-{uuid.uuid4().hex}", member.pk, arrived, "EUR", (line,), 600_000),
            now=arrived,
        )
    # then the points it just earned count: the member is gold at once
    earned_at = Transaction.objects.values_list("created_at", flat=True).get(
        member_id=member.pk, kind="earn"
    )
    assert earned_at > arrived
    assert result.points == 6000
    assert tier_code_of(member.pk) == "gold"


def test_qualification_adds_up_across_partners(
    levels: dict[str, TierLevel], partner_a: Partner, partner_b: Partner
) -> None:
    # given 600 points earned at alpha (blue)
    _policy(QualificationPeriod.ROLLING_12_MONTHS)
    member = _member()
    now = timezone.now()
    _earn(member, partner_a, 600)
    tier_evaluate(member_id=member.pk, now=now)
    assert tier_code_of(member.pk) == "blue"
    # when 500 more are earned at beta
    _earn(member, partner_b, 500)
    tier_evaluate(member_id=member.pk, now=now)
    # then both count: 1100 points, silver
    assert tier_code_of(member.pk) == "silver"
    assert tier_status(member.pk, now=now).qualifying_points == 1100
    # and spending points does not lower the qualification, reversing an earn does
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=1000)
    assert tier_status(member.pk, now=now).qualifying_points == 1100
    first_beta = Transaction.objects.filter(
        member_id=member.pk, partner_id=partner_b.pk, kind="earn"
    ).first()
    assert first_beta is not None
    ledger.reverse(transaction_id=first_beta.pk, points=50, allow_shortfall=True)
    assert tier_status(member.pk, now=now).qualifying_points == 1050


# --- reviews, grace and downgrades ------------------------------------------------------


def _gold_member_falling_short(
    partner_a: Partner, partner_b: Partner, qualification: str
) -> tuple[Member, MemberTier, int]:
    """A member who reached gold (6000 earned at two partners) then had 2000 of them
    reversed: 4000 qualifying points, silver territory, still gold. Returns the
    member, their tier and the id of an earn that can still be reversed."""
    _policy(qualification)
    member = _member()
    now = timezone.now()
    _earn(member, partner_a, 3000)
    second = _earn(member, partner_b, 3000)
    tier_evaluate(member_id=member.pk, now=now)
    assert tier_code_of(member.pk) == "gold"
    ledger.reverse(transaction_id=second, points=2000)
    tier = tier_evaluate(member_id=member.pk, now=now)
    assert tier is not None
    assert tier.level.code == "gold"
    return member, tier, second


def _period_end(tier: MemberTier, qualification: str) -> datetime:
    """The review of the period the member qualified in. Calendar year: the next
    New Year, as the service set it. Rolling: the period's earns happen now, so the
    review is made due tomorrow (a year cannot pass in a test)."""
    if qualification == QualificationPeriod.CALENDAR_YEAR:
        return tier.review_at
    due = timezone.now() + timedelta(days=1)
    MemberTier.objects.filter(pk=tier.pk).update(review_at=due)
    return due


POLICIES = [
    pytest.param(QualificationPeriod.ROLLING_12_MONTHS, id="rolling-12-months"),
    pytest.param(QualificationPeriod.CALENDAR_YEAR, id="calendar-year"),
]


@pytest.mark.parametrize("qualification", POLICIES)
def test_review_dates_follow_the_policy(
    levels: dict[str, TierLevel], partner_a: Partner, qualification: str
) -> None:
    # given a policy, when a member reaches a level
    _policy(qualification)
    member = _member()
    now = timezone.now()
    _earn(member, partner_a, 1000)
    tier = tier_evaluate(member_id=member.pk, now=now)
    # then the review is at the end of the qualification period
    assert tier is not None
    if qualification == QualificationPeriod.CALENDAR_YEAR:
        assert tier.review_at == datetime(now.year + 1, 1, 1, tzinfo=UTC)
    else:
        assert tier.review_at == now + timedelta(days=365)


@pytest.mark.parametrize("qualification", POLICIES)
def test_no_downgrade_before_the_review(
    levels: dict[str, TierLevel], partner_a: Partner, partner_b: Partner, qualification: str
) -> None:
    # given a gold member now below the gold threshold
    member, tier, _ = _gold_member_falling_short(partner_a, partner_b, qualification)
    # when reviews run any time before the review date
    for moment in (timezone.now(), tier.review_at - timedelta(seconds=1)):
        assert tiers_review(now=moment) == 0
        tier_evaluate(member_id=member.pk, now=min(moment, timezone.now()))
    # then the member keeps gold, without a grace period
    tier.refresh_from_db()
    assert (tier.level.code, tier.grace_until) == ("gold", None)
    assert _changes(member)[-1][1] == "gold"


@pytest.mark.parametrize("qualification", POLICIES)
def test_below_at_review_gets_grace_then_is_downgraded(
    levels: dict[str, TierLevel], partner_a: Partner, partner_b: Partner, qualification: str
) -> None:
    # given a gold member with 4000 qualifying points when the period ends
    member, tier, _ = _gold_member_falling_short(partner_a, partner_b, qualification)
    review_at = _period_end(tier, qualification)
    changes_before = len(_changes(member))
    # when the review runs at the end of the period
    assert tiers_review(now=review_at) == 0
    # then a grace period starts and the member is still gold
    tier.refresh_from_db()
    assert tier.level.code == "gold"
    assert tier.grace_until == review_at + timedelta(days=GRACE_DAYS)
    # and running the review again during the grace changes nothing
    assert tiers_review(now=review_at + timedelta(days=GRACE_DAYS - 1)) == 0
    tier.refresh_from_db()
    assert (tier.level.code, tier.grace_until) == ("gold", review_at + timedelta(days=GRACE_DAYS))
    assert len(_changes(member)) == changes_before
    # when the grace ends with the member still short
    grace_end = review_at + timedelta(days=GRACE_DAYS)
    assert tiers_review(now=grace_end) == 1
    # then the member moves down to the level their 4000 points earn, with the reason
    tier.refresh_from_db()
    assert (tier.level.code, tier.grace_until) == ("silver", None)
    assert tier.review_at > grace_end
    last = TierChange.objects.filter(member=member).order_by("-changed_at", "-id").first()
    assert last is not None
    assert (last.from_level.code if last.from_level else None, last.to_level.code) == (
        "gold",
        "silver",
    )
    assert last.qualifying_points == 4000
    assert "downgrade" in last.reason
    assert "grace" in last.reason
    assert last.changed_at == grace_end
    # and a second run at the same moment does not move the member again
    assert tiers_review(now=grace_end) == 0


@pytest.mark.parametrize("qualification", POLICIES)
def test_requalifying_during_grace_prevents_the_downgrade(
    levels: dict[str, TierLevel], partner_a: Partner, partner_b: Partner, qualification: str
) -> None:
    # given a gold member found short at the review, in the grace period
    member, tier, _ = _gold_member_falling_short(partner_a, partner_b, qualification)
    review_at = _period_end(tier, qualification)
    tiers_review(now=review_at)
    tier.refresh_from_db()
    assert tier.grace_until is not None
    # when they earn the missing 1000 points before the grace ends
    _earn(member, partner_b, 1000)
    grace_end = review_at + timedelta(days=GRACE_DAYS)
    # then at the end of the grace they keep gold, and the next period starts
    assert tiers_review(now=grace_end) == 0
    tier.refresh_from_db()
    assert (tier.level.code, tier.grace_until) == ("gold", None)
    assert tier.review_at > grace_end
    assert not TierChange.objects.filter(member=member, to_level__code="silver").exists()


@pytest.mark.parametrize("qualification", POLICIES)
def test_at_or_above_threshold_at_review_renews(
    levels: dict[str, TierLevel], partner_a: Partner, partner_b: Partner, qualification: str
) -> None:
    # given a gold member with 5000 qualifying points at the review (7000 earned,
    # 2000 reversed)
    member, tier, _ = _gold_member_falling_short(partner_a, partner_b, qualification)
    _earn(member, partner_a, 1000)
    assert qualifying_points(member.pk, timezone.now() - timedelta(days=1), timezone.now()) == 5000
    review_at = _period_end(tier, qualification)
    # when the review runs, then the level is renewed without grace
    assert tiers_review(now=review_at) == 0
    tier.refresh_from_db()
    assert (tier.level.code, tier.grace_until) == ("gold", None)
    assert tier.review_at > review_at


def test_partner_adjustments_do_not_count_toward_tier_qualification(
    levels: dict[str, TierLevel], partner_a: Partner, partner_b: Partner
) -> None:
    # given a blue member with 900 points earned
    _policy(QualificationPeriod.ROLLING_12_MONTHS)
    member = _member()
    _earn(member, partner_a, 900)
    tier_evaluate(member_id=member.pk, now=_db_now())
    assert tier_code_of(member.pk) == "blue"
    # when a partner adds 5,000 goodwill points, and another takes back some it issued
    ledger.adjust(member_id=member.pk, partner_id=partner_b.pk, points=5000)
    ledger.adjust(member_id=member.pk, partner_id=partner_a.pk, points=-300)
    tier_upgrade_if_due(member_id=member.pk, now=_db_now())
    tier_evaluate(member_id=member.pk, now=_db_now())
    # then qualification still counts only what was earned: neither moves the tier
    now = _db_now()
    assert qualifying_points(member.pk, now - timedelta(days=1), now + timedelta(days=1)) == 900
    assert tier_code_of(member.pk) == "blue"
    assert _changes(member) == [(None, "blue", 900)]
