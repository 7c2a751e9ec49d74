"""Reads of a partner's earning set-up (inside the partner's schema)."""

from __future__ import annotations

from datetime import datetime

from loyalty_kernel.tenancy import current_schema
from tenants.earning import engine
from tenants.earning.models import Campaign, EarnRule, RuleSetVersion, SegmentMember


def version_in_force(at: datetime) -> RuleSetVersion | None:
    return (
        RuleSetVersion.objects.filter(published_at__isnull=False, effective_from__lte=at)
        .order_by("-effective_from")
        .first()
    )


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


def campaigns_running(at: datetime) -> list[engine.Campaign]:
    return [
        engine.Campaign(
            c.pk,
            c.kind,
            c.params,
            c.starts_at,
            c.ends_at,
            frozenset(c.tiers),
            frozenset(c.segments),
            c.name,
        )
        for c in Campaign.objects.filter(is_active=True, starts_at__lte=at, ends_at__gt=at)
    ]


def member_segments(member_id: int) -> frozenset[str]:
    return frozenset(
        SegmentMember.objects.filter(member_id=member_id).values_list("segment__name", flat=True)
    )
