"""A purchase's pricing context, read in one statement (call inside the partner's
schema).

Pricing a purchase needs the member (status, country, tier, segments), the
partner's rule version and campaigns in force when it happened, the member's
earlier purchases here (first-purchase bonus, daily cap) and the coalition's
expiry policy for the lot. A purchase is the hottest write of the platform (the
ORM spent more time building these ~12 queries than PostgreSQL spent answering
them), so ``snapshot_sql`` reads all of it in one statement, on the driver
connection, and the recording adds its own columns to the same statement.

The statement holds no rule of its own: each column is the expression of the app
that owns the table (earning's versions, campaigns and segments, the purchases'
history, tiers, expiry), the same expression that app's selectors run alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from coalition.expiry.models import ExpiryPolicy
from coalition.expiry.selectors import expiry_policy_from, expiry_policy_sql
from coalition.expiry.services import lot_expiry_under
from coalition.tiers.selectors import member_tier_code_sql, tiers_defined_sql
from tenants.earning import engine
from tenants.earning.selectors import (
    campaigns_from,
    campaigns_running_sql,
    daily_cap_in_force_sql,
    member_segments_sql,
    published_rules,
    schema_sql,
    version_from,
    version_in_force_sql,
)
from tenants.purchases.selectors import has_purchases_sql, rule_points_between_sql


@dataclass(frozen=True)
class PricingSnapshot:
    """What pricing a purchase reads, as of the statement that read it."""

    member_status: str | None  # None: no such member
    member_number: str
    country: str
    db_now: datetime  # now() of the transaction: the ledger stamps the earn with it
    # rule points earned here on the purchase's local day; 0 (not read) when the
    # version in force has no daily cap, the only rule that counts them
    points_today: int
    has_purchases: bool  # here, before this one
    tier: str | None
    segments: frozenset[str]
    version: tuple[int, int] | None  # (id, number) of the rule version in force
    campaigns: tuple[engine.Campaign, ...]
    budgeted: frozenset[int]  # campaigns with a budget
    expiry: ExpiryPolicy
    tiers_defined: bool  # without tier levels there is nothing to upgrade to

    def earn_context(self, occurred_at: datetime) -> engine.EarnContext:
        return engine.EarnContext(
            occurred_at=occurred_at,
            tier=self.tier,
            segments=self.segments,
            is_first_purchase=not self.has_purchases,
            points_earned_today=self.points_today,
        )

    def lot_expiry(self) -> datetime | None:
        """When the lot of points earned now expires (None: only inactivity)."""
        return lot_expiry_under(self.expiry, self.country, self.db_now)


def _columns(s: str) -> tuple[str, ...]:
    member = "m.id"
    return (
        "m.status",
        "m.member_number",
        "m.country",
        "now()",
        # 0 without a daily cap in force: nothing else reads the day's points
        f"CASE WHEN {daily_cap_in_force_sql(s, at='at')} THEN "
        + rule_points_between_sql(s, member=member, start="%(day_start)s", end="%(day_end)s")
        + " ELSE 0 END",
        has_purchases_sql(s, member=member),
        member_tier_code_sql(member=member),
        member_segments_sql(s, member=member),
        version_in_force_sql(s, at="at"),
        # as text: psycopg would parse json into new objects on every purchase;
        # text is parsed here once per distinct value (``snapshot_of``)
        f"({campaigns_running_sql(s, at='at')})::text",
        f"({expiry_policy_sql()})::text",
        tiers_defined_sql(),
    )


COLUMNS = len(_columns('"s"'))  # the snapshot's columns come first; extra ones after


@lru_cache(maxsize=1024)
def snapshot_sql(schema: str, member_column: str, extra: tuple[str, ...] = ()) -> str:
    """The snapshot's statement for a partner schema, the member found by
    ``member_column`` ("id" or "member_number") bound as ``%(member)s``, with the
    caller's ``extra`` columns after the snapshot's (which may use ``m``, the
    member row). It returns one row, the member's columns NULL when nobody is
    found. Parameters: ``snapshot_params``."""
    if member_column not in ("id", "member_number"):
        raise ValueError(f"members are found by id or number, not {member_column!r}")
    columns = ",\n  ".join(_columns(schema_sql(schema)) + extra)
    return (
        f"SELECT {columns}\n"
        f"FROM (SELECT 1) AS one LEFT JOIN public.members_member m"
        f" ON m.{member_column} = %(member)s"
    )


def day_bounds(occurred_at: datetime, time_zone: str) -> tuple[datetime, datetime]:
    """The partner's local day of the purchase (the daily cap counts per day there)."""
    zone = ZoneInfo(time_zone or "UTC")
    local_day = occurred_at.astimezone(zone).date()
    start = datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone)
    return start, start + timedelta(days=1)


def snapshot_params(*, member: Any, occurred_at: datetime, time_zone: str) -> dict[str, Any]:
    day_start, day_end = day_bounds(occurred_at, time_zone)
    return {"member": member, "at": occurred_at, "day_start": day_start, "day_end": day_end}


# The campaigns running and the expiry policy come as JSON text (the statement
# casts them) that holds nothing of the purchase or the member, so consecutive
# purchases read the same text
# until staff change a campaign or the policy (a new text, parsed afresh): each
# text is parsed once per process. Bounded: a text per partner's running set.
@lru_cache(maxsize=256)
def _campaigns_of(text: str) -> tuple[tuple[engine.Campaign, ...], frozenset[int]]:
    return campaigns_from(text)


@lru_cache(maxsize=16)
def _expiry_of(text: str | None) -> ExpiryPolicy:
    return expiry_policy_from(text)


def snapshot_of(row: Sequence[Any]) -> PricingSnapshot:
    """The snapshot from the first ``COLUMNS`` values of the statement's row."""
    campaigns, budgeted = (
        _campaigns_of(row[9]) if isinstance(row[9], str) else campaigns_from(row[9])
    )
    expiry = (
        _expiry_of(row[10])
        if row[10] is None or isinstance(row[10], str)
        else expiry_policy_from(row[10])
    )
    return PricingSnapshot(
        member_status=row[0],
        member_number=row[1] or "",
        country=row[2] or "",
        db_now=row[3],
        points_today=int(row[4]),
        has_purchases=bool(row[5]),
        tier=row[6],
        segments=frozenset(row[7] or ()),
        version=version_from(row[8]),
        campaigns=campaigns,
        budgeted=budgeted,
        expiry=expiry,
        tiers_defined=bool(row[11]),
    )


def price(
    basket: engine.Basket, snapshot: PricingSnapshot, occurred_at: datetime
) -> engine.Breakdown:
    """The points of the basket under the snapshot's rule version (which the
    caller has checked exists) and campaigns."""
    if snapshot.version is None:
        raise engine.EarningError("no rule version in force to price with")
    return engine.points_for_purchase(
        basket,
        published_rules(snapshot.version[0]),
        list(snapshot.campaigns),
        snapshot.earn_context(occurred_at),
    )


def attribute(
    basket: engine.Basket,
    snapshot: PricingSnapshot,
    *,
    rule_points: int,
    campaign_points: dict[int, int],
) -> tuple[engine.LineAttribution, ...]:
    """What each line of the basket earned of the points awarded (the rule points
    and the campaign points each campaign was granted after its budget), under
    the snapshot's rule version and campaigns: what a return of its units takes
    back."""
    rules = published_rules(snapshot.version[0]) if snapshot.version else []
    return engine.attribute_points(
        basket,
        rules,
        snapshot.campaigns,
        rule_points=rule_points,
        campaign_points=campaign_points,
    )
