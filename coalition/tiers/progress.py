"""How far a member is from the next tier and from keeping the one they hold: the
numbers the member portal's home shows. Read-only; the rules are the tier
programme's own (``coalition.tiers.services``): upgrades at once when qualifying
points pass a threshold, a downgrade considered only at the review date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from coalition.tiers.models import QualificationPeriod, TierLevel
from coalition.tiers.selectors import (
    level_for,
    levels_from,
    levels_sql,
    qualifying_points,
    tier_policy,
)
from coalition.tiers.services import qualification_window, tier_status
from loyalty_kernel import driver_sql


@dataclass(frozen=True)
class TierProgress:
    level_name: str | None  # None: no tier yet
    qualifying_points: int  # in the current qualification window
    calendar_year: bool  # the window is the calendar year (else the last 12 months)
    window_ends: datetime | None  # calendar year: when this year's points stop counting
    next_name: str | None  # None: the top tier
    points_to_next: int | None
    review_at: datetime | None  # when the current tier is reviewed
    points_to_keep: int | None  # more qualifying points needed by review_at (0: kept)
    grace_until: datetime | None  # below the tier at the last review: kept until then


def _next_level(levels: list[TierLevel], current: TierLevel | None) -> TierLevel | None:
    above = [level for level in levels if current is None or level.rank > current.rank]
    return above[0] if above else None


def tier_progress(member_id: int, *, now: datetime) -> TierProgress | None:
    """None when the programme has no tiers."""
    row = driver_sql.fetchone(f"SELECT {levels_sql()}")
    levels = levels_from(row[0] if row else None)
    if not levels:
        return None
    policy = tier_policy()
    status = tier_status(member_id, now)
    current = next((level for level in levels if level.code == status.code), None)
    if current is None:
        current = level_for(levels, status.qualifying_points)
    following = _next_level(levels, current)
    calendar = policy.qualification == QualificationPeriod.CALENDAR_YEAR
    points_to_keep = None
    if current is not None and status.review_at is not None and current.threshold_points:
        # What still counts at the review: points earned since that review's window opened.
        start, _ = qualification_window(policy, status.review_at)
        counted = qualifying_points(member_id, start, now + timedelta(microseconds=1))
        points_to_keep = max(0, current.threshold_points - counted)
    return TierProgress(
        level_name=current.name if current is not None else None,
        qualifying_points=status.qualifying_points,
        calendar_year=calendar,
        window_ends=datetime(now.year + 1, 1, 1, tzinfo=now.tzinfo) if calendar else None,
        next_name=following.name if following is not None else None,
        points_to_next=(
            max(0, following.threshold_points - status.qualifying_points)
            if following is not None
            else None
        ),
        review_at=status.review_at,
        points_to_keep=points_to_keep,
        grace_until=status.grace_until,
    )
