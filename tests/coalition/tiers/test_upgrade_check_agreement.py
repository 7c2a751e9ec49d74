"""The upgrade check after a purchase agrees with ``tier_evaluate``, on generated
histories.

``tier_upgrade_if_due`` looks in one statement (levels, policy, the member's level
and qualifying points) before ``tier_evaluate`` decides under the member's lock;
both read the same SQL expressions (``coalition.tiers.selectors``) and decide with
the same rule. The test generates levels, a policy, a history of earns and
reversals stamped at instants around ``now`` and the level held, and checks the
check's answer ("evaluate", or not) against what ``tier_evaluate`` does and
against the rule written out in plain Python over the generated history.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.tiers import services as tier_services
from coalition.tiers.models import MemberTier, QualificationPeriod, TierLevel, TierPolicy
from tenants.partners.models import Partner
from tests.testkit.earning import new_member, uid
from tests.testkit.ledger import post_journal_at

NOW = datetime(2031, 3, 10, 15, 30, tzinfo=UTC)


@contextmanager
def _rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


history = st.lists(
    st.tuples(st.integers(-800, 0), st.integers(-300, 900).filter(bool)), max_size=10
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    thresholds=st.lists(st.integers(0, 2000), min_size=1, max_size=4, unique=True),
    policy=st.sampled_from([None, *QualificationPeriod.values]),
    events=history,
    held=st.one_of(st.none(), st.integers(0, 3)),
    shift=st.integers(0, 300),
)
def test_upgrade_check_agrees_with_tier_evaluate(
    db: None,
    partner_a: Partner,
    thresholds: list[int],
    policy: str | None,
    events: list[tuple[int, int]],
    held: int | None,
    shift: int,
) -> None:
    now = NOW + timedelta(days=shift)
    with _rolled_back():
        # given tier levels, maybe a policy, a member's earns and reversals stamped
        # days before now, and maybe a level the member holds
        created = [
            TierLevel.objects.create(
                code=uid("t").lower()[:20], name=f"L{rank}", rank=900 + rank, threshold_points=t
            )
            for rank, t in enumerate(sorted(thresholds))
        ]
        TierPolicy.objects.all().delete()
        if policy is not None:
            TierPolicy.objects.create(qualification=policy, grace_days=30)
        member = new_member()
        stamped = [(now - timedelta(days=-days, hours=days % 5), amount) for days, amount in events]
        for at, amount in stamped:
            post_journal_at(member_id=member.pk, partner_id=partner_a.pk, amount=amount, at=at)
        levels = list(TierLevel.objects.order_by("rank"))
        current = created[held] if held is not None and held < len(created) else None
        if current is not None:
            MemberTier.objects.create(member=member, level=current, achieved_at=now, review_at=now)

        # when the check runs (tier_evaluate replaced by a spy)
        with mock.patch.object(tier_services, "tier_evaluate") as evaluate:
            tier_services.tier_upgrade_if_due(member_id=member.pk, now=now)
        checked = evaluate.called

        # then it asks for an evaluation exactly when the rule says the member moves up:
        # the points earned in the policy's window reach a level above the one held
        qualification = policy or TierPolicy().qualification
        if qualification == QualificationPeriod.CALENDAR_YEAR:
            start = datetime(now.year, 1, 1, tzinfo=UTC)
        else:
            start = now - timedelta(days=365)
        points = sum(amount for at, amount in stamped if start <= at <= now)
        reached = [level for level in levels if level.threshold_points <= points]
        target = reached[-1] if reached else levels[0]
        due = current is None or target.rank > current.rank
        assert checked == due, (points, target.code, current)

        # and tier_evaluate, run for real, changes the member's level exactly then,
        # to that level
        tier_services.tier_evaluate(member_id=member.pk, now=now)
        after = MemberTier.objects.select_related("level").get(member=member).level
        assert after.pk == (target.pk if due else current.pk if current else None)
