"""Reads of a partner's earning set-up (inside the partner's schema).

Earning owns the SQL that reads its tables. Each rule of "what is in force" is
one scalar SQL expression (``*_sql``), read by the purchase's pricing snapshot
(``tenants.earning.pricing``) next to everything else a purchase needs, and by
the selector of the same name here, which runs the same expression alone. The
expression and its parser are the only definition: there is no ORM copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, Sum

from loyalty_kernel import driver_sql
from loyalty_kernel.tenancy import current_schema
from tenants.earning import engine
from tenants.earning.models import (
    Campaign,
    CampaignBudgetBucket,
    CampaignStatus,
    EarnRule,
    RuleSetVersion,
    Segment,
)


def schema_sql(schema: str) -> str:
    """A partner schema's name as SQL: the hot statements run on the driver
    connection, where django-tenants' search_path may not be set yet, so they
    name the schema."""
    return f'"{schema}"'


# --- the rule version in force --------------------------------------------------------


def version_in_force_sql(s: str, *, at: str = "at") -> str:
    """``ARRAY[id, number]`` of the published version in force at the instant bound
    as ``%(at)s`` (the latest effective one not after it), NULL if none. ``s`` is
    the schema as SQL (``schema_sql``). Published versions never share an instant
    (a unique constraint), so the order is total."""
    return _in_force(s, "ARRAY[v.id, v.number]", at)


def _in_force(s: str, what: str, at: str) -> str:
    return f"""(SELECT {what} FROM {s}.earning_rulesetversion v
    WHERE v.published_at IS NOT NULL AND v.effective_from <= %({at})s
    ORDER BY v.effective_from DESC LIMIT 1)"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def daily_cap_in_force_sql(s: str, *, at: str = "at") -> str:
    """Whether the version in force at ``%(at)s`` has a daily cap: only then does a
    purchase need the member's rule points of the day here, which it would
    otherwise sum on every purchase, one more row with each purchase of the day."""
    return f"""EXISTS (SELECT 1 FROM {s}.earning_earnrule r
    WHERE r.kind = 'daily_cap' AND r.version_id = {_in_force(s, "v.id", at)})"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def version_from(value: Any) -> tuple[int, int] | None:
    """(id, number) from ``version_in_force_sql``'s value."""
    return (int(value[0]), int(value[1])) if value else None


def version_in_force(at: datetime) -> RuleSetVersion | None:
    row = driver_sql.fetchone(
        f"SELECT {version_in_force_sql(schema_sql(current_schema()))}", {"at": at}
    )
    version = version_from(row[0] if row else None)
    return RuleSetVersion.objects.get(pk=version[0]) if version else None


# --- rules --------------------------------------------------------------------------

# A published version never changes, so its rules are cached per process, keyed
# by schema and version id (version ids repeat across partner schemas).
_published_rules: dict[tuple[str, int], list[engine.Rule]] = {}


def engine_rules(version: RuleSetVersion) -> list[engine.Rule]:
    if version.published_at is not None:
        return published_rules(version.pk)
    return _rules_of(version.pk)


def published_rules(version_id: int) -> list[engine.Rule]:
    """The rules of a published (hence immutable) version, cached per process."""
    key = (current_schema(), version_id)
    rules = _published_rules.get(key)
    if rules is None:
        rules = _published_rules[key] = _rules_of(version_id)
    return rules


def _rules_of(version_id: int) -> list[engine.Rule]:
    return [
        engine.Rule(rule.pk, rule.kind, rule.params, rule.name)
        for rule in EarnRule.objects.filter(version_id=version_id).order_by("position", "id")
    ]


# --- campaigns ----------------------------------------------------------------------


def campaigns_running_sql(s: str, *, at: str = "at") -> str:
    """A JSON array of the campaigns running at ``%(at)s`` (active: neither paused
    nor ended; started, not past their end; in start order), NULL if none.
    ``campaigns_running_q`` is the same rule for the ORM (the console's list);
    the pricing snapshot agreement tests hold the two together."""
    return f"""(SELECT json_agg(c ORDER BY c.starts_at, c.id) FROM (
     SELECT id, kind, params, starts_at, ends_at, tiers, segments, name, budget_points
       FROM {s}.earning_campaign
      WHERE status = 'active' AND starts_at <= %({at})s AND ends_at > %({at})s) c)"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def campaigns_running_q(at: datetime) -> Q:
    """The ORM twin of ``campaigns_running_sql``: the campaigns that earn at ``at``."""
    return Q(status=CampaignStatus.ACTIVE, starts_at__lte=at, ends_at__gt=at)


def _json(value: Any) -> Any:
    # Django's psycopg set-up hands json to driver cursors as text.
    return json.loads(value) if isinstance(value, str) else value


def campaigns_from(value: Any) -> tuple[tuple[engine.Campaign, ...], frozenset[int]]:
    """The campaigns of ``campaigns_running_sql``'s value, and which of them have a
    budget."""
    rows = _json(value) or ()
    campaigns = tuple(
        engine.Campaign(
            c["id"],
            c["kind"],
            c["params"],
            datetime.fromisoformat(c["starts_at"]),
            datetime.fromisoformat(c["ends_at"]),
            frozenset(c["tiers"]),
            frozenset(c["segments"]),
            c["name"],
        )
        for c in rows
    )
    return campaigns, frozenset(c["id"] for c in rows if c["budget_points"] is not None)


def campaigns_by_id(ids: Iterable[int]) -> list[engine.Campaign]:
    """The campaigns with these ids, running or not (a return reads what the
    campaigns its purchase was granted points by targeted)."""
    return [
        engine.Campaign(
            c.pk, c.kind, c.params, c.starts_at, c.ends_at,
            frozenset(c.tiers), frozenset(c.segments), c.name,
        )
        for c in Campaign.objects.filter(pk__in=list(ids)).order_by("id")
    ]  # fmt: skip


def campaigns_running(at: datetime) -> list[engine.Campaign]:
    row = driver_sql.fetchone(
        f"SELECT {campaigns_running_sql(schema_sql(current_schema()))}", {"at": at}
    )
    return list(campaigns_from(row[0] if row else None)[0])


def campaign_issued_points(campaign_id: int) -> int:
    """Points a budgeted campaign has issued against its budget (0 for an
    unlimited one: its total is the sum over purchases' breakdowns)."""
    total = CampaignBudgetBucket.objects.filter(campaign_id=campaign_id).aggregate(
        issued=Sum("issued")
    )["issued"]
    return int(total or 0)


def campaign_state(campaign: Campaign, now: datetime) -> str:
    """How staff see a campaign at ``now``: "ended" (ended by staff, or past its
    end), "paused", "scheduled" (not started) or "running" (it earns: exactly
    the campaigns ``campaigns_running_q`` selects)."""
    if campaign.status == CampaignStatus.ENDED or campaign.ends_at <= now:
        return "ended"
    if campaign.status == CampaignStatus.PAUSED:
        return "paused"
    if campaign.starts_at > now:
        return "scheduled"
    return "running"


@dataclass(frozen=True)
class CampaignSummary:
    campaign: Campaign
    state: str
    issued: int  # points issued against the budget (budgeted campaigns)

    @property
    def left(self) -> int | None:
        budget = self.campaign.budget_points
        return None if budget is None else max(0, budget - self.issued)

    @property
    def percent_used(self) -> int | None:
        budget = self.campaign.budget_points
        if budget is None:
            return None
        return 100 if budget == 0 else min(100, self.issued * 100 // budget)


def campaign_summaries(
    *, now: datetime, before_id: int | None = None, state: str = "", limit: int | None = None
) -> list[CampaignSummary]:
    """Campaigns newest first (ids below ``before_id`` for the next page), each with
    its state at ``now`` and its live budget consumption (one query for all)."""
    rows = Campaign.objects.order_by("-id")
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    if state == "running":
        rows = rows.filter(campaigns_running_q(now))
    elif state == "scheduled":
        rows = rows.filter(status=CampaignStatus.ACTIVE, starts_at__gt=now)
    elif state == "paused":
        rows = rows.filter(status=CampaignStatus.PAUSED, ends_at__gt=now)
    elif state == "ended":
        rows = rows.filter(Q(status=CampaignStatus.ENDED) | Q(ends_at__lte=now))
    campaigns = list(rows[:limit] if limit is not None else rows)
    issued = dict(
        CampaignBudgetBucket.objects.filter(campaign_id__in=[c.pk for c in campaigns])
        .values("campaign_id")
        .annotate(total=Sum("issued"))
        .values_list("campaign_id", "total")
    )
    return [
        CampaignSummary(c, campaign_state(c, now), int(issued.get(c.pk) or 0)) for c in campaigns
    ]


def campaign_by_id(campaign_id: int) -> Campaign | None:
    return Campaign.objects.filter(pk=campaign_id).first()


def segment_names() -> list[str]:
    return list(Segment.objects.order_by("name").values_list("name", flat=True))


# --- segments -----------------------------------------------------------------------


def member_segments_sql(s: str, *, member: str) -> str:
    """The names of the segments the member ``member`` (an SQL expression for
    their id) belongs to, as a text array."""
    return f"""ARRAY(SELECT g.name FROM {s}.earning_segmentmember sm
          JOIN {s}.earning_segment g ON g.id = sm.segment_id WHERE sm.member_id = {member})"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def member_segments(member_id: int) -> frozenset[str]:
    row = driver_sql.fetchone(
        f"SELECT {member_segments_sql(schema_sql(current_schema()), member='%(member)s')}",
        {"member": member_id},
    )
    return frozenset(row[0] if row else ())


# --- versions as staff see them: status, history, differences, a preview ----------------


@dataclass(frozen=True)
class VersionSummary:
    version: RuleSetVersion
    status: str  # "draft", "scheduled", "in_force" or "superseded"
    rule_count: int


def rule_versions(*, now: datetime, limit: int = 100) -> list[VersionSummary]:
    """The newest versions first, each with its status at ``now``."""
    in_force = version_in_force(now)
    versions = (
        RuleSetVersion.objects.annotate(rule_count=Count("rules"))
        .prefetch_related("rules")
        .order_by("-number")
    )
    return [
        VersionSummary(v, version_status(v, in_force, now), v.rule_count) for v in versions[:limit]
    ]


def version_status(version: RuleSetVersion, in_force: RuleSetVersion | None, now: datetime) -> str:
    if version.published_at is None or version.effective_from is None:
        return "draft"
    if version.effective_from > now:
        return "scheduled"
    if in_force is not None and in_force.pk == version.pk:
        return "in_force"
    return "superseded"


def rule_version(number: int) -> RuleSetVersion | None:
    return RuleSetVersion.objects.filter(number=number).first()


def version_rules(version: RuleSetVersion) -> list[EarnRule]:
    """In the version's order; from ``prefetch_related("rules")`` when it was used."""
    return sorted(version.rules.all(), key=lambda rule: (rule.position, rule.pk))


# What makes two rules of two versions "the same rule": a kind that can appear once
# per key (a multiplier per category, a bonus per SKU) is matched by that key;
# every other kind by the kind alone.
_RULE_KEYS = {
    "category_multiplier": "category",
    "sku_multiplier": "sku",
    "category_bonus": "category",
    "sku_bonus": "sku",
}


def rule_identity(kind: str, params: dict[str, Any]) -> tuple[str, str]:
    key = _RULE_KEYS.get(kind)
    return (kind, str(params.get(key, "")) if key else "")


@dataclass(frozen=True)
class RuleChange:
    change: str  # "added", "removed" or "changed"
    kind: str
    before: EarnRule | None
    after: EarnRule | None


def versions_compare(older: RuleSetVersion, newer: RuleSetVersion) -> list[RuleChange]:
    """What changed from ``older`` to ``newer``: rules added, removed and changed
    (same kind and key, other parameters or name), in the newer version's order."""

    def by_identity(rules: list[EarnRule]) -> dict[tuple[str, str], list[EarnRule]]:
        grouped: dict[tuple[str, str], list[EarnRule]] = {}
        for rule in rules:
            grouped.setdefault(rule_identity(rule.kind, rule.params), []).append(rule)
        return grouped

    before, after = by_identity(version_rules(older)), by_identity(version_rules(newer))
    changes: list[RuleChange] = []
    for identity, new_rules in after.items():
        old_rules = list(before.get(identity, []))
        for rule in new_rules:
            same = next(
                (o for o in old_rules if (o.params, o.name) == (rule.params, rule.name)), None
            )
            if same is not None:
                old_rules.remove(same)
                continue
            if old_rules:
                changes.append(RuleChange("changed", rule.kind, old_rules.pop(0), rule))
            else:
                changes.append(RuleChange("added", rule.kind, None, rule))
        before[identity] = old_rules
    for old_rules in before.values():
        changes.extend(RuleChange("removed", rule.kind, rule, None) for rule in old_rules)
    return changes


def ruleset_preview(
    *,
    version: RuleSetVersion,
    basket: engine.Basket,
    at: datetime,
    tier: str | None = None,
    first_purchase: bool = False,
) -> engine.Breakdown:
    """The points ``basket`` would earn under ``version`` (a draft too) and the
    campaigns running at ``at``, by the engine that prices every purchase. Posts
    nothing. A member's own context (tier, first purchase) is given, not read."""
    context = engine.EarnContext(
        occurred_at=at, tier=tier or None, is_first_purchase=first_purchase
    )
    return engine.points_for_purchase(basket, engine_rules(version), campaigns_running(at), context)
