"""Tier qualification: points *earned* (earns minus earn reversals, never the
balance) at every partner over the qualification period.

- Upgrades happen at once, whenever an earn lifts the member past a threshold.
- Downgrades are considered only at the end of the qualification period
  (``review_at``). A member found below their level keeps it for the grace period;
  if they still fall short when it ends, they move down to the level their points
  earn. Every change is recorded with its reason and the qualifying points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

from coalition.members.models import Member
from coalition.tiers.models import (
    MemberTier,
    QualificationPeriod,
    TierChange,
    TierLevel,
    TierPolicy,
)
from coalition.webhooks import services as webhooks
from loyalty_kernel import driver_sql

ROLLING_PERIOD = timedelta(days=365)


@dataclass(frozen=True)
class TierStatus:
    code: str | None
    name: str | None
    qualifying_points: int
    review_at: datetime | None
    grace_until: datetime | None


def tier_policy() -> TierPolicy:
    policy = TierPolicy.objects.order_by("id").first()
    return policy if policy is not None else TierPolicy()


def qualification_window(policy: TierPolicy, end: datetime) -> tuple[datetime, datetime]:
    """The period whose earned points count, ending at ``end``."""
    if policy.qualification == QualificationPeriod.CALENDAR_YEAR:
        year_start = datetime(end.year, 1, 1, tzinfo=UTC)
        if end == year_start:  # a review at New Year looks at the year just ended
            return datetime(end.year - 1, 1, 1, tzinfo=UTC), end
        return year_start, end
    return end - ROLLING_PERIOD, end


def next_review(policy: TierPolicy, after: datetime) -> datetime:
    if policy.qualification == QualificationPeriod.CALENDAR_YEAR:
        return datetime(after.year + 1, 1, 1, tzinfo=UTC)
    return after + ROLLING_PERIOD


def qualifying_points(member_id: int, start: datetime, end: datetime) -> int:
    """Points earned in [start, end): earns minus their reversals, at all partners."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(e.amount), 0)
              FROM public.ledger_account a
              JOIN public.ledger_entry e ON e.account_id = a.id
              JOIN public.ledger_transaction t ON t.id = e.transaction_id
             WHERE a.member_id = %s AND a.kind = 'wallet'
               AND t.kind IN ('earn', 'earn_reversal')
               AND t.created_at >= %s AND t.created_at < %s
            """,
            [member_id, start, end],
        )
        (points,) = cursor.fetchone()
    return int(points)


def _levels() -> list[TierLevel]:
    # Read after every purchase that earns: one statement on the driver connection.
    names = ["id", "code", "name", "rank", "threshold_points"]
    rows = driver_sql.fetchall(
        "SELECT id, code, name, rank, threshold_points FROM public.tiers_tierlevel ORDER BY rank"
    )
    return [TierLevel.from_db("default", names, list(row)) for row in rows]


def _level_for(levels: list[TierLevel], points: int) -> TierLevel | None:
    reached = [level for level in levels if level.threshold_points <= points]
    return reached[-1] if reached else None


def _record(
    member_id: int, old: TierLevel | None, new: TierLevel, reason: str, points: int, at: datetime
) -> None:
    TierChange.objects.create(
        member_id=member_id,
        from_level=old,
        to_level=new,
        reason=reason,
        qualifying_points=points,
        changed_at=at,
    )
    webhooks.emit(None, "tier_changed", lambda: {
        "member_number": Member.objects.get(pk=member_id).member_number,
        "from_tier": old.code if old else None, "to_tier": new.code, "reason": reason,
        "qualifying_points": points, "changed_at": at,
    })  # fmt: skip


def tier_evaluate(*, member_id: int, now: datetime | None = None) -> MemberTier | None:
    """Upgrade the member at once if their earned points reach a higher level.
    Never downgrades (that is ``tiers_review``'s, at the end of the period)."""
    now = now or timezone.now()
    levels = _levels()
    if not levels:
        return None
    policy = tier_policy()
    with transaction.atomic():
        current = MemberTier.objects.select_for_update().filter(member_id=member_id).first()
        start, _ = qualification_window(policy, now)
        points = qualifying_points(member_id, start, now + timedelta(microseconds=1))
        target = _level_for(levels, points) or levels[0]
        if current is None:
            current = MemberTier.objects.create(
                member_id=member_id,
                level=target,
                achieved_at=now,
                review_at=next_review(policy, now),
            )
            _record(member_id, None, target, f"joined at {target.name}", points, now)
            return current
        if target.rank > current.level.rank:
            old = current.level
            current.level = target
            current.achieved_at = now
            current.review_at = next_review(policy, now)
            current.grace_until = None
            current.save()
            _record(
                member_id,
                old,
                target,
                f"upgraded: {points} points earned since {start.date()}",
                points,
                now,
            )
        return current


# What an upgrade check needs, in one statement: the levels, the policy, the
# member's current rank, and their qualifying points under both policies (one pass
# over their earns; the caller picks the policy's window).
_UPGRADE_CHECK_SQL = """
SELECT levels.thresholds, levels.ranks, policy.qualification, current_level.rank,
       q.rolling, q.calendar
  FROM (SELECT array_agg(threshold_points ORDER BY rank) AS thresholds,
               array_agg(rank ORDER BY rank) AS ranks
          FROM public.tiers_tierlevel) AS levels
  LEFT JOIN LATERAL (SELECT qualification FROM public.tiers_tierpolicy
                      ORDER BY id LIMIT 1) AS policy ON true
  LEFT JOIN LATERAL (SELECT l.rank FROM public.tiers_membertier mt
                       JOIN public.tiers_tierlevel l ON l.id = mt.level_id
                      WHERE mt.member_id = %(member)s) AS current_level ON true
 CROSS JOIN LATERAL (
       SELECT coalesce(sum(e.amount) FILTER (WHERE t.created_at >= %(rolling)s), 0) AS rolling,
              coalesce(sum(e.amount) FILTER (WHERE t.created_at >= %(calendar)s), 0) AS calendar
         FROM public.ledger_account a
         JOIN public.ledger_entry e ON e.account_id = a.id
         JOIN public.ledger_transaction t ON t.id = e.transaction_id
        WHERE a.member_id = %(member)s AND a.kind = 'wallet'
          AND t.kind IN ('earn', 'earn_reversal')
          AND t.created_at >= least(%(rolling)s, %(calendar)s) AND t.created_at < %(end)s
       ) AS q
"""


def tier_upgrade_if_due(*, member_id: int, now: datetime) -> None:
    """After points land: upgrade the member if they now qualify for a higher level
    (or give them their first level). Most earns change nothing, so this first
    looks in one statement, without a transaction or a lock, and only then runs
    ``tier_evaluate`` (which decides under the member's tier row lock)."""
    end = now + timedelta(microseconds=1)
    rolling, _ = qualification_window(
        TierPolicy(qualification=QualificationPeriod.ROLLING_12_MONTHS), now
    )
    calendar, _ = qualification_window(
        TierPolicy(qualification=QualificationPeriod.CALENDAR_YEAR), now
    )
    row = driver_sql.prepared(
        _UPGRADE_CHECK_SQL,
        {"member": Int8(member_id), "rolling": rolling, "calendar": calendar, "end": end},
    )
    assert row is not None
    thresholds, ranks, qualification, current_rank, rolling_points, calendar_points = row
    if not thresholds:
        return  # no levels
    qualification = qualification or TierPolicy().qualification
    points = (
        calendar_points if qualification == QualificationPeriod.CALENDAR_YEAR else rolling_points
    )
    # as tier_evaluate: the highest level reached, or the entry level
    reached = [
        rank for rank, threshold in zip(ranks, thresholds, strict=True) if threshold <= points
    ]
    target_rank = reached[-1] if reached else ranks[0]
    if current_rank is not None and target_rank <= current_rank:
        return
    tier_evaluate(member_id=member_id, now=now)


def tiers_review(*, now: datetime | None = None) -> int:
    """End-of-period reviews: renew, start a grace period, or downgrade after it.
    Safe to run repeatedly: each member row is locked and moved on at most once per
    period. Returns how many tiers changed."""
    now = now or timezone.now()
    levels = _levels()
    if not levels:
        return 0
    policy = tier_policy()
    changed = 0
    due = MemberTier.objects.filter(review_at__lte=now).values_list("member_id", flat=True)
    graced = MemberTier.objects.filter(grace_until__lte=now).values_list("member_id", flat=True)
    for member_id in sorted(set(due) | set(graced)):
        with transaction.atomic():
            tier = (
                MemberTier.objects.select_for_update()
                .select_related("level")
                .get(member_id=member_id)
            )
            if tier.grace_until is not None and tier.grace_until <= now:
                if policy.qualification == QualificationPeriod.CALENDAR_YEAR:
                    # The year under review plus what was earned during the grace
                    # (``review_at`` is still that year's end): the new year's few
                    # grace weeks alone would drop members below what they earned.
                    start, end = qualification_window(policy, tier.review_at)[0], now
                else:
                    start, end = qualification_window(policy, now)
                points = qualifying_points(member_id, start, end)
                target = _level_for(levels, points) or levels[0]
                if target.rank < tier.level.rank:
                    old = tier.level
                    tier.level = target
                    changed += 1
                    _record(
                        member_id,
                        old,
                        target,
                        f"downgraded after grace: {points} points since {start.date()}",
                        points,
                        now,
                    )
                tier.grace_until = None
                tier.review_at = next_review(policy, now)
                tier.save()
                continue
            if tier.review_at > now or tier.grace_until is not None:
                continue
            start, end = qualification_window(policy, tier.review_at)
            points = qualifying_points(member_id, start, end)
            target = _level_for(levels, points) or levels[0]
            if target.rank >= tier.level.rank:
                tier.review_at = next_review(policy, tier.review_at)  # renewed
            else:
                tier.grace_until = tier.review_at + timedelta(days=policy.grace_days)
            tier.save()
    return changed


def tier_status(member_id: int, now: datetime | None = None) -> TierStatus:
    now = now or timezone.now()
    tier = MemberTier.objects.select_related("level").filter(member_id=member_id).first()
    start, _ = qualification_window(tier_policy(), now)
    points = qualifying_points(member_id, start, now + timedelta(microseconds=1))
    if tier is None:
        return TierStatus(None, None, points, None, None)
    return TierStatus(tier.level.code, tier.level.name, points, tier.review_at, tier.grace_until)


def tier_code_of(member_id: int) -> str | None:
    level = (
        MemberTier.objects.filter(member_id=member_id).values_list("level__code", flat=True).first()
    )
    return level
