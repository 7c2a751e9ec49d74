"""Tier qualification: points *earned* (earns minus earn reversals, never the
balance) at every partner over the qualification period.

- Upgrades happen at once, whenever an earn lifts the member past a threshold.
- Downgrades are considered only at the end of the qualification period
  (``review_at``). A member found below their level keeps it for the grace period;
  if they still fall short when it ends, they move down to the level their points
  earn. Every change is recorded with its reason and the qualifying points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

from coalition.audit.services import audit_record
from coalition.members.models import Member
from coalition.tiers import notices
from coalition.tiers.errors import (
    TierError,
    TierLevelCodeTaken,
    TierLevelInvalid,
    TierLevelsChangedMeanwhile,
    TierPolicyInvalid,
    TierThresholdNotIncreasing,
    UnknownTierLevel,
)
from coalition.tiers.models import (
    MemberTier,
    QualificationPeriod,
    TierChange,
    TierLevel,
    TierPolicy,
)
from coalition.tiers.selectors import (
    level_for,
    levels_from,
    levels_sql,
    member_tier_code_sql,
    qualifying_points,
    qualifying_points_sql,
    tier_policy,
    tier_policy_sql,
)
from coalition.webhooks import services as webhooks
from loyalty_kernel import driver_sql, jobs

ROLLING_PERIOD = timedelta(days=365)


@dataclass(frozen=True)
class TierStatus:
    code: str | None
    name: str | None
    qualifying_points: int
    review_at: datetime | None
    grace_until: datetime | None


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


def _levels() -> list[TierLevel]:
    row = driver_sql.fetchone(f"SELECT {levels_sql()}")
    return levels_from(row[0] if row else None)


def _record(
    member_id: int, old: TierLevel | None, new: TierLevel, reason: str, points: int, at: datetime
) -> None:
    change = TierChange.objects.create(
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
    if notices.is_news(old, new):  # no job for a new member joining the entry level
        jobs.enqueue_on_commit(notices.send_change_notice, change.pk)


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
        target = _upgrade_to(levels, points, current.level if current else None)
        if target is None:
            return current
        if current is None:
            current = MemberTier.objects.create(
                member_id=member_id,
                level=target,
                achieved_at=now,
                review_at=next_review(policy, now),
            )
            _record(member_id, None, target, f"joined at {target.name}", points, now)
            return current
        old = current.level
        current.level = target
        current.achieved_at = now
        current.review_at = next_review(policy, now)
        current.grace_until = None
        current.save()
        _record(
            member_id, old, target, f"upgraded: {points} points earned since {start.date()}",
            points, now,
        )  # fmt: skip
        return current


def _upgrade_to(
    levels: list[TierLevel], points: int, current: TierLevel | None
) -> TierLevel | None:
    """The level a member moves up to at once, None if they stay: the highest level
    their qualifying points reach (at least the entry level) when it is above the
    level they hold. Both the check after an earn and ``tier_evaluate`` decide here."""
    target = level_for(levels, points) or levels[0]
    return target if current is None or target.rank > current.rank else None


# What an upgrade check needs, in one statement: the levels, the member's current
# level, and their qualifying points under the policy's window. The same
# expressions as every other tier read; the CASE picks the policy's window, and
# PostgreSQL runs only the subquery of the branch it takes (the other window's
# points are not read).
_WINDOWS = tuple(QualificationPeriod.values)
_DEFAULT_QUALIFICATION = TierPolicy._meta.get_field("qualification").default
_UPGRADE_CHECK_SQL = "SELECT {levels}, {current}, CASE coalesce({policy}->>'qualification', '{default}') {points} END".format(  # noqa: E501
    levels=f"({levels_sql()})::text",  # text: parsed once per value (``_levels_of``)
    current=member_tier_code_sql(member="%(member)s"),
    policy=tier_policy_sql(),
    default=_DEFAULT_QUALIFICATION,
    points=" ".join(
        f"WHEN '{qualification}' THEN "
        + qualifying_points_sql(member="%(member)s", start=f"%(start_{index})s", end="%(end)s")
        for index, qualification in enumerate(_WINDOWS)
    ),
)


@lru_cache(maxsize=1)
def _window_policies() -> tuple[TierPolicy, ...]:
    """A policy of each qualification, to compute each window's start."""
    return tuple(TierPolicy(qualification=qualification) for qualification in _WINDOWS)


@lru_cache(maxsize=8)
def _levels_of(value: Any) -> tuple[TierLevel, ...]:
    """The levels of ``levels_sql``'s value, parsed once per distinct value (the
    check's statement casts it to text): the check reads them after every purchase,
    and they change only when an operator edits them (a new text, a new entry)."""
    return tuple(levels_from(value))


def tier_upgrade_check(*, member_id: int, now: datetime) -> tuple[str, dict[str, Any]]:
    """The statement that tells whether an upgrade is due after points landed at
    ``now`` (the levels, the member's level and their qualifying points), for a
    caller that sends it together with its own statements: a purchase sends it
    with its receipt's insert, before its commit (``tier_upgrade_due`` reads the
    row it returns).

    Read inside the transaction that earned, it still sees every earlier earn of
    the member: each earn updates the member's wallet row, so a second earn at
    another partner waits for the first to commit before its own statement runs,
    and its check (a later statement) sees both. Of two concurrent purchases that
    cross a threshold only together, the later one's check finds the upgrade
    (tests/tenants/purchases/test_tier_check_in_transaction.py)."""
    params: dict[str, Any] = {"member": Int8(member_id), "end": now + timedelta(microseconds=1)}
    for index, policy in enumerate(_window_policies()):
        params[f"start_{index}"] = qualification_window(policy, now)[0]
    return _UPGRADE_CHECK_SQL, params


def tier_upgrade_due(row: tuple[Any, ...] | None) -> bool:
    """Whether ``tier_upgrade_check``'s row says the member now qualifies for a
    higher level (or for their first)."""
    if row is None:
        raise TierError("the upgrade check returned no row")
    levels = list(_levels_of(row[0]) if isinstance(row[0], str) else levels_from(row[0]))
    if not levels:
        return False  # no levels
    points = int(row[2])
    current = next((level for level in levels if level.code == row[1]), None)
    return _upgrade_to(levels, points, current) is not None


def tier_upgrade_if_due(*, member_id: int, now: datetime) -> None:
    """After points land: upgrade the member if they now qualify for a higher level
    (or give them their first level). Most earns change nothing, so this first
    looks in one statement, without a transaction or a lock, and only then runs
    ``tier_evaluate`` (which decides the same way under the member's tier row lock)."""
    sql, params = tier_upgrade_check(member_id=member_id, now=now)
    if tier_upgrade_due(driver_sql.prepared(sql, params)):
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
                target = level_for(levels, points) or levels[0]
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
            target = level_for(levels, points) or levels[0]
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


# --- the programme's levels and policy (the operator console edits them) ---------------

LEVEL_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,19}$")
RESERVED_CODES = frozenset({"add", "policy"})  # the console's own addresses
MAX_THRESHOLD = 10**12
MAX_GRACE_DAYS = 3650


def _level_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise TierLevelInvalid("Give the level a name of 1 to 60 characters", field="name")
    return name


def _threshold(points: int) -> int:
    if not 0 <= points <= MAX_THRESHOLD:
        raise TierLevelInvalid(
            f"Qualifying points are a whole number from 0 to {MAX_THRESHOLD}",
            field="threshold_points",
        )
    return points


def _lock_levels() -> list[TierLevel]:
    """Take the levels' table lock (writers wait for each other; readers, such as
    a purchase's tier check, do not) and return the levels, lowest first. Under
    it the next rank and the neighbours' thresholds cannot change; the unique rank
    stays the database's guarantee besides."""
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE public.tiers_tierlevel IN SHARE ROW EXCLUSIVE MODE")
    return list(TierLevel.objects.order_by("rank"))


def _level_audit(level: TierLevel) -> dict[str, Any]:
    return {
        "code": level.code, "name": level.name, "rank": level.rank,
        "threshold_points": level.threshold_points,
    }  # fmt: skip


def tier_level_add(
    *, code: str, name: str, threshold_points: int, request_key: str, actor: Any
) -> tuple[TierLevel, bool]:
    """Add a level above the highest one; returns it and whether this call added
    it (False: the same form was sent before, nothing new). The first level is the
    entry level (rank 0); each next one needs more qualifying points than the one
    below. Audited."""
    key = (request_key or "").strip()[:80]
    if not key:
        raise TierLevelInvalid("The form expired. Open it again and resubmit")
    code = (code or "").strip().lower()
    if not LEVEL_CODE.match(code) or code in RESERVED_CODES:
        raise TierLevelInvalid(
            "A code is 1 to 20 lowercase letters, digits, hyphens or underscores", field="code"
        )
    name = _level_name(name)
    threshold_points = _threshold(threshold_points)
    try:
        with transaction.atomic():
            levels = _lock_levels()
            done = next((level for level in levels if level.request_key == key), None)
            if done is not None:
                return done, False
            if any(level.code == code for level in levels):
                raise TierLevelCodeTaken(f"There is a level with the code {code} already")
            top = levels[-1] if levels else None
            if top is not None and threshold_points <= top.threshold_points:
                raise TierThresholdNotIncreasing(
                    f"A new level sits above {top.name}: it needs more than "
                    f"{top.threshold_points} qualifying points"
                )
            level = TierLevel.objects.create(
                code=code,
                name=name,
                rank=top.rank + 1 if top is not None else 0,
                threshold_points=threshold_points,
                request_key=key,
            )
            audit_record(
                actor=actor,
                partner_id=None,
                action="programme.tier_level_add",
                target=("tier_level", level.code),
                after=_level_audit(level),
            )
    except IntegrityError:
        # only without the lock's protection (another writer outside this service)
        raise TierLevelsChangedMeanwhile(
            "The levels changed while you were adding this one: look again and resubmit"
        ) from None
    return level, True


def tier_level_change(*, code: str, name: str, threshold_points: int, actor: Any) -> TierLevel:
    """Rename a level or move its threshold between its neighbours' (its code and
    rank stay: caps and members' history refer to them). Audited; a change to the
    same values records nothing."""
    name = _level_name(name)
    threshold_points = _threshold(threshold_points)
    with transaction.atomic():
        levels = _lock_levels()
        index = next((i for i, level in enumerate(levels) if level.code == code), None)
        if index is None:
            raise UnknownTierLevel(f"There is no level with the code {code}")
        level = levels[index]
        below = levels[index - 1] if index > 0 else None
        above = levels[index + 1] if index + 1 < len(levels) else None
        if below is not None and threshold_points <= below.threshold_points:
            raise TierThresholdNotIncreasing(
                f"{level.name} needs more qualifying points than {below.name} "
                f"({below.threshold_points})"
            )
        if above is not None and threshold_points >= above.threshold_points:
            raise TierThresholdNotIncreasing(
                f"{level.name} needs fewer qualifying points than {above.name} "
                f"({above.threshold_points})"
            )
        if (level.name, level.threshold_points) == (name, threshold_points):
            return level
        before = _level_audit(level)
        level.name = name
        level.threshold_points = threshold_points
        level.save(update_fields=["name", "threshold_points"])
        audit_record(
            actor=actor,
            partner_id=None,
            action="programme.tier_level_change",
            target=("tier_level", level.code),
            before=before,
            after=_level_audit(level),
        )
    return level


def tier_policy_set(*, qualification: str, grace_days: int, actor: Any) -> TierPolicy:
    """Set the qualification period and the grace before a downgrade (the policy
    row in force, made if there is none). It applies from each member's next
    review. Audited; the same values again record nothing."""
    if qualification not in QualificationPeriod.values:
        raise TierPolicyInvalid(
            "Choose a rolling 12 months or the calendar year", field="qualification"
        )
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise TierPolicyInvalid(
            f"Grace is a whole number of days from 0 to {MAX_GRACE_DAYS}", field="grace_days"
        )
    with transaction.atomic():
        # the first row is the one in force (``tier_policy_sql``); lock it, or
        # serialise the first creation on the table
        policy = TierPolicy.objects.select_for_update().order_by("id").first()
        if policy is None:
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE public.tiers_tierpolicy IN SHARE ROW EXCLUSIVE MODE")
            policy = TierPolicy.objects.order_by("id").first()
        before = (
            {"qualification": policy.qualification, "grace_days": policy.grace_days}
            if policy is not None
            else None
        )
        after = {"qualification": qualification, "grace_days": grace_days}
        if before == after and policy is not None:
            return policy
        if policy is None:
            policy = TierPolicy.objects.create(qualification=qualification, grace_days=grace_days)
        else:
            policy.qualification = qualification
            policy.grace_days = grace_days
            policy.save(update_fields=["qualification", "grace_days"])
        audit_record(
            actor=actor,
            partner_id=None,
            action="programme.tier_policy_change",
            target=("tier_policy", policy.pk),
            before=before,
            after=after,
        )
    return policy
