"""The purchase's pricing snapshot agrees with the readable reads, on generated data.

A purchase reads everything pricing needs in one statement (earning's
``pricing.snapshot_sql`` plus the recording's columns). Each of its columns is the
SQL expression of the app that owns the table, the same expression that app's
selector runs alone. Every test here names the snapshot's column and the
selector it must agree with, generates rows with Hypothesis, and checks both
against the rule written out in plain Python over the rows the ORM reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.expiry.models import ExpiryMode, ExpiryPolicy
from coalition.expiry.selectors import expiry_policy
from coalition.expiry.services import lot_expiry_for
from coalition.members.models import Member
from coalition.tiers.models import MemberTier, TierLevel
from coalition.tiers.selectors import tier_code_of
from tenants.earning import engine, pricing
from tenants.earning.models import (
    Campaign,
    EarnRule,
    RuleSetVersion,
    Segment,
    SegmentMember,
)
from tenants.earning.selectors import (
    campaign_state,
    campaigns_running,
    campaigns_running_q,
    member_segments,
    version_in_force,
)
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase
from tenants.purchases.services import recording
from tenants.stores.models import Store
from tests.testkit import in_partner
from tests.testkit.earning import new_member, receipt, uid

# Far from the instants other tests write at, so generated rows decide the answers.
T0 = datetime(2031, 6, 1, 12, tzinfo=UTC)
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hours = st.integers(-72, 72)


@contextmanager
def _rolled_back() -> Iterator[None]:
    """One Hypothesis example's rows, gone after it."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _snapshot(
    partner: Partner, member: Member, at: datetime, store_code: str | None = None
) -> tuple[pricing.PricingSnapshot, Any]:
    """The purchase's own statement, as ``purchase_record`` sends it."""
    return recording._snapshot(
        receipt(member.pk, at, store_code=store_code), member.pk, partner, None
    )


# --- earning: the rule version in force ---------------------------------------------


@EXAMPLES
@given(
    versions=st.lists(st.tuples(hours, st.booleans()), max_size=6, unique_by=lambda v: v[0]),
    at=hours,
)
def test_snapshot_version_in_force_agrees_with_selector_version_in_force(
    db: None, partner_a: Partner, versions: list[tuple[int, bool]], at: int
) -> None:
    with in_partner(partner_a), _rolled_back():
        # given rule versions, published or drafts, effective at hours around T0
        number = (RuleSetVersion.objects.aggregate(top=Max("number"))["top"] or 0) + 1
        for index, (offset, published) in enumerate(versions):
            RuleSetVersion.objects.create(
                number=number + index,
                effective_from=T0 + timedelta(hours=offset),
                published_at=T0 if published else None,
            )
        member, instant = new_member(), T0 + timedelta(hours=at)

        # when the snapshot and the selector read the version in force
        snapshot, _ = _snapshot(partner_a, member, instant)
        selected = version_in_force(instant)

        # then both give the published version effective last at or before the instant
        in_force = [
            v
            for v in RuleSetVersion.objects.all()
            if v.published_at is not None and v.effective_from and v.effective_from <= instant
        ]
        expected = max(in_force, key=lambda v: v.effective_from or T0, default=None)
        assert snapshot.version == ((expected.pk, expected.number) if expected else None)
        assert (selected.pk if selected else None) == (expected.pk if expected else None)


# --- earning: the campaigns running ---------------------------------------------------

campaign_rows = st.lists(
    st.tuples(
        hours,
        st.integers(1, 48),
        st.sampled_from(["active", "paused", "ended"]),
        st.sampled_from([None, 0, 500]),
    ),
    max_size=6,
)


@EXAMPLES
@given(campaigns=campaign_rows, at=hours)
def test_snapshot_campaigns_running_agree_with_selector_campaigns_running(
    db: None, partner_a: Partner, campaigns: list[tuple[int, int, str, int | None]], at: int
) -> None:
    with in_partner(partner_a), _rolled_back():
        # given campaigns, active, paused or ended by staff, budgeted or not, over
        # hours around T0
        for offset, length, status, budget in campaigns:
            Campaign.objects.create(
                name=uid("c"), kind="bonus", params={"points": 5}, status=status,
                starts_at=T0 + timedelta(hours=offset),
                ends_at=T0 + timedelta(hours=offset + length),
                tiers=["gold"] if length % 2 else [], segments=["vip"] if length % 3 else [],
                budget_points=budget,
            )  # fmt: skip
        member, instant = new_member(), T0 + timedelta(hours=at)

        # when the snapshot and the selector read the campaigns running at the instant
        snapshot, _ = _snapshot(partner_a, member, instant)
        selected = campaigns_running(instant)
        orm_twin = list(
            Campaign.objects.filter(campaigns_running_q(instant)).order_by("starts_at", "id")
        )

        # then both list the active ones (neither paused nor ended) started and not
        # ended, in start order
        running = sorted(
            (
                c
                for c in Campaign.objects.all()
                if c.status == "active" and c.starts_at <= instant < c.ends_at
            ),
            key=lambda c: (c.starts_at, c.pk),
        )
        expected = [
            engine.Campaign(c.pk, c.kind, c.params, c.starts_at, c.ends_at, frozenset(c.tiers),
                            frozenset(c.segments), c.name)
            for c in running
        ]  # fmt: skip
        assert list(snapshot.campaigns) == expected
        assert selected == expected
        # and the ORM twin the console lists with selects the same rows, which are
        # exactly the ones the console calls "running"
        assert orm_twin == running
        assert [
            c for c in Campaign.objects.order_by("starts_at", "id")
            if campaign_state(c, instant) == "running"
        ] == running  # fmt: skip
        # and the snapshot knows which of them have a budget
        assert snapshot.budgeted == {c.pk for c in running if c.budget_points is not None}


# --- earning: the member's segments ---------------------------------------------------


@EXAMPLES
@given(memberships=st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=8, unique=True))
def test_snapshot_segments_agree_with_selector_member_segments(
    db: None, partner_a: Partner, memberships: list[tuple[int, bool]]
) -> None:
    with in_partner(partner_a), _rolled_back():
        # given four segments, the member in some of them and another member in others
        segments = [Segment.objects.create(name=uid("seg").lower()) for _ in range(4)]
        member, other = new_member(), new_member()
        for index, ours in memberships:
            SegmentMember.objects.create(segment=segments[index], member=member if ours else other)

        # when the snapshot and the selector read the member's segments
        snapshot, _ = _snapshot(partner_a, member, T0)
        selected = member_segments(member.pk)

        # then both name exactly the member's segments
        expected = {m.segment.name for m in SegmentMember.objects.filter(member=member)}
        assert snapshot.segments == selected == expected


# --- tiers: the member's tier ---------------------------------------------------------


@EXAMPLES
@given(levels=st.integers(0, 3), held=st.one_of(st.none(), st.integers(0, 2)))
def test_snapshot_tier_agrees_with_selector_tier_code_of(
    db: None, partner_a: Partner, levels: int, held: int | None
) -> None:
    with in_partner(partner_a), _rolled_back():
        # given some tier levels, and the member holding one of them or none
        created = [
            TierLevel.objects.create(
                code=uid("t").lower()[:20],
                name=f"L{rank}",
                rank=800 + rank,
                threshold_points=rank * 100,
            )
            for rank in range(levels)
        ]
        member = new_member()
        if held is not None and held < len(created):
            MemberTier.objects.create(
                member=member, level=created[held], achieved_at=T0, review_at=T0
            )

        # when the snapshot and the selector read the member's tier
        snapshot, _ = _snapshot(partner_a, member, T0)
        selected = tier_code_of(member.pk)

        # then both give the code of the level held, or nothing
        tier = MemberTier.objects.filter(member=member).select_related("level").first()
        assert snapshot.tier == selected == (tier.level.code if tier else None)
        # and the snapshot knows whether there are levels to reach at all
        assert snapshot.tiers_defined == TierLevel.objects.exists()


# --- expiry: the policy in force and the lot's expiry -----------------------------------

policies = st.lists(
    st.tuples(
        st.sampled_from(ExpiryMode.values),
        st.integers(1, 36),
        st.lists(st.sampled_from(["DE", "FR", "ES"]), max_size=2, unique=True),
    ),
    max_size=2,
)


@EXAMPLES
@given(rows=policies, country=st.sampled_from(["", "DE", "FR", "GB"]))
def test_snapshot_expiry_agrees_with_selector_expiry_policy_and_lot_expiry_for(
    db: None, partner_a: Partner, rows: list[tuple[str, int, list[str]]], country: str
) -> None:
    with in_partner(partner_a), _rolled_back():
        # given no policy row, or one or two, and a member of some country
        ExpiryPolicy.objects.all().delete()
        for mode, months, countries in rows:
            ExpiryPolicy.objects.create(
                mode=mode, months=months, inactivity_months=months + 1,
                reminder_days=months % 7 + 1, inactivity_only_countries=countries,
            )  # fmt: skip
        member = new_member()
        Member.objects.filter(pk=member.pk).update(country=country)

        # when the snapshot and the selector read the policy
        snapshot, _ = _snapshot(partner_a, member, T0)
        selected = expiry_policy()

        # then both give the first row's values, or the defaults without one
        expected = ExpiryPolicy.objects.order_by("id").first() or ExpiryPolicy()
        fields = ("id", "mode", "months", "inactivity_months", "reminder_days",
                  "inactivity_only_countries")  # fmt: skip
        values = [tuple(getattr(p, name) for name in fields) for p in (snapshot.expiry, selected)]
        assert values == [tuple(getattr(expected, name) for name in fields)] * 2
        # and the lot a purchase earns expires when lot_expiry_for says it does
        assert snapshot.lot_expiry() == lot_expiry_for(member.pk, snapshot.db_now)


# --- stores and purchases: the store by code, the member's day here --------------------


@EXAMPLES
@given(
    codes=st.lists(st.sampled_from(["S1", "S2", "S3"]), unique=True),
    asked=st.sampled_from(["S1", "S2", "S3", "S9"]),
)
def test_snapshot_store_agrees_with_the_store_table(
    db: None, partner_a: Partner, codes: list[str], asked: str
) -> None:
    with in_partner(partner_a), _rolled_back():
        # given stores with some codes (made unique to this example)
        suffix = uid("")[-8:]
        for code in codes:
            Store.objects.create(code=f"{code}{suffix}", name=code)
        member = new_member()

        # when the purchase's statement looks a store up by its code
        _, recorded = _snapshot(partner_a, member, T0, store_code=f"{asked}{suffix}")

        # then it finds the store with that code, or none
        store = Store.objects.filter(code=f"{asked}{suffix}").first()
        assert recorded.store_id == (store.pk if store else None)


@EXAMPLES
@given(
    purchases=st.lists(
        st.tuples(st.integers(-60, 60), st.integers(0, 50), st.booleans()), max_size=8
    ),
    at=st.integers(-30, 30),
    capped=st.booleans(),
)
def test_snapshot_daily_points_and_first_purchase_agree_with_the_purchases(
    db: None, partner_a: Partner, purchases: list[tuple[int, int, bool]], at: int, capped: bool
) -> None:
    with in_partner(partner_a), _rolled_back():
        # given the version in force, with a daily cap or without one
        number = (RuleSetVersion.objects.aggregate(top=Max("number"))["top"] or 0) + 1
        version = RuleSetVersion.objects.create(
            number=number, effective_from=T0 - timedelta(days=30), published_at=T0
        )
        EarnRule.objects.create(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        if capped:
            EarnRule.objects.create(version=version, kind="daily_cap", params={"points": 500})
        # and purchases of the member and of another member at hours around T0
        member, other = new_member(), new_member()
        for offset, points, ours in purchases:
            Purchase.objects.create(
                external_id=uid(), member=member if ours else other, channel="pos",
                occurred_at=T0 + timedelta(hours=offset), currency="EUR", total=100,
                rule_points=points, points_awarded=points, request_hash="-",
            )  # fmt: skip
        instant = T0 + timedelta(hours=at)

        # when the snapshot reads the member's day and history at this partner
        snapshot, _ = _snapshot(partner_a, member, instant)

        # then under a daily cap its daily points are the rule points of the member's
        # purchases on the partner's local day of the instant (without one nothing
        # reads them: 0), and it knows whether there were any
        zone = ZoneInfo(partner_a.time_zone or "UTC")
        mine = list(Purchase.objects.filter(member=member))
        day = instant.astimezone(zone).date()
        today = sum(p.rule_points for p in mine if p.occurred_at.astimezone(zone).date() == day)
        assert snapshot.points_today == (today if capped else 0)
        assert snapshot.has_purchases == bool(mine)
