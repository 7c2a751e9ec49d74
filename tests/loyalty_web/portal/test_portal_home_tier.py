"""The portal home's tier (points and time to the next tier or to keep this one)
and its recent activity across brands."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.tiers.models import MemberTier, QualificationPeriod, TierLevel, TierPolicy
from coalition.tiers.progress import tier_progress
from coalition.tiers.services import tier_evaluate
from loyalty_kernel import clock
from tenants.partners.models import Partner
from tests.testkit.portal import portal_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def levels(db: None) -> None:
    """Blue (entry), Silver at 1,000 and Gold at 5,000 qualifying points; the
    tests' database has no levels of its own (each test's rows roll back)."""
    for rank, (code, threshold) in enumerate([("blue", 0), ("silver", 1000), ("gold", 5000)]):
        TierLevel.objects.create(
            code=code, name=code.title(), rank=rank, threshold_points=threshold
        )


def _member() -> Member:
    return member_enrol(email=f"tier-home-{uuid4().hex[:10]}@example.com")


def test_the_home_shows_the_tier_and_what_reaches_the_next(
    levels: None, partner_a: Partner
) -> None:
    # given: a member with 1,200 qualifying points (Silver) under a rolling year
    member = _member()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1200)
    tier_evaluate(member_id=member.pk)

    # when / then: Silver, 3,800 more to reach Gold; at the review a year from now
    # today's points will have left the rolling window, so all 1,000 are still needed
    page = portal_client(member).get("/portal/").content.decode()
    assert "Your tier: Silver" in page
    assert "You have earned 1,200 qualifying points in the last 12 months." in page
    assert "Earn 3,800 more points within 12 months to reach Gold." in page
    assert "To keep Silver, earn 1,000 more points by" in page


def test_points_to_keep_count_only_what_still_counts_at_the_review(
    levels: None, partner_a: Partner
) -> None:
    # given: Silver reached 11 months ago, points earned then leave the window at review
    TierPolicy.objects.create(qualification=QualificationPeriod.ROLLING_12_MONTHS)
    member = _member()
    now = clock.now()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1000)
    tier_evaluate(member_id=member.pk, now=now)
    tier = MemberTier.objects.get(member=member)
    # the review is in a month; the window then starts 11 months from now, after today
    MemberTier.objects.filter(pk=tier.pk).update(review_at=now + timedelta(days=30))

    progress = tier_progress(member.pk, now=now)

    # then: the 1,000 points earned now still count at the review (within its year)
    assert progress is not None
    assert progress.level_name == "Silver"
    assert progress.points_to_keep == 0
    assert "You have already earned enough to keep Silver at its review on" in (
        portal_client(member).get("/portal/").content.decode()
    )
    # and a review further out than a year counts none of today's points
    MemberTier.objects.filter(pk=tier.pk).update(review_at=now + timedelta(days=400))
    far = tier_progress(member.pk, now=now)
    assert far is not None
    assert far.points_to_keep == 1000
    page = portal_client(member).get("/portal/").content.decode()
    assert "To keep Silver, earn 1,000 more points by" in page


def test_the_calendar_year_says_by_when(levels: None, partner_a: Partner) -> None:
    TierPolicy.objects.create(qualification=QualificationPeriod.CALENDAR_YEAR)
    member = _member()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=300)
    tier_evaluate(member_id=member.pk)
    page = portal_client(member).get("/portal/").content.decode()
    assert "You have earned 300 qualifying points this year." in page
    assert f"Earn 700 more points before 1 Jan {clock.now().year + 1} to reach Silver." in page


def test_no_tier_section_without_tiers(partner_a: Partner) -> None:
    member = _member()
    page = portal_client(member).get("/portal/").content.decode()
    assert "Your tier" not in page


def test_recent_activity_lists_the_last_movements_across_brands(
    partner_a: Partner, partner_b: Partner
) -> None:
    member = _member()
    for points in (11, 12, 13):
        ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=points)
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=14)
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=5)
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=16)
    page = portal_client(member).get("/portal/").content.decode()
    recent = page.split('id="recent"')[1].split("</section>")[0]
    assert "+16" in recent
    assert "-5" in recent
    assert "+14" in recent
    assert "+12" in recent
    assert "+11" not in recent  # only the last five
    assert partner_b.name in recent
    assert "See all your history" in recent
