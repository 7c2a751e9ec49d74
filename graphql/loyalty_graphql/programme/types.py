"""Plain views of stores, rule versions and the value of a point (kept whole in
stored answers, so a replay answers what the first call answered)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import graphene

from tenants.earning import selectors as earning_selectors
from tenants.earning.models import RuleSetVersion
from tenants.rewards.models import PointsPaymentSettings
from tenants.stores.models import Store
from tenants.stores.services import store_state


class StoreView(graphene.ObjectType):
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    channel = graphene.String(required=True, description="pos, online or app")
    time_zone = graphene.String(required=True)
    city = graphene.String(required=True)
    is_open = graphene.Boolean(required=True, description="Closed stores are off the locator.")


def store_view(store: Store) -> dict[str, Any]:
    """The store's settings as its audit rows show them, but for the name of the
    flag: the API calls an active store open."""
    view = store_state(store)
    view["is_open"] = view.pop("is_active")
    return view


class EarnRuleView(graphene.ObjectType):
    id = graphene.ID(required=True)
    kind = graphene.String(required=True)
    name = graphene.String(required=True)
    params = graphene.JSONString(required=True)


class RuleVersionView(graphene.ObjectType):
    number = graphene.Int(required=True)
    description = graphene.String(required=True)
    status = graphene.String(required=True, description="draft, scheduled, in_force or superseded")
    effective_from = graphene.DateTime()
    published_at = graphene.DateTime()
    rules = graphene.List(graphene.NonNull(EarnRuleView), required=True)


def rule_version_view(
    version: RuleSetVersion, *, now: datetime, in_force: RuleSetVersion | None
) -> dict[str, Any]:
    return {
        "number": version.number,
        "description": version.description,
        "status": earning_selectors.version_status(version, in_force, now),
        "effective_from": version.effective_from,
        "published_at": version.published_at,
        "rules": [
            {"id": str(rule.pk), "kind": rule.kind, "name": rule.name, "params": rule.params}
            for rule in earning_selectors.version_rules(version)
        ],
    }


class PointValueView(graphene.ObjectType):
    value_per_point = graphene.String(
        required=True,
        description="Minor units of the currency one point pays for, as a decimal string.",
    )
    currency = graphene.String(required=True)


def point_value_view(settings_row: PointsPaymentSettings) -> dict[str, Any]:
    value = settings_row.value_per_point.normalize()
    return {"value_per_point": f"{value:f}", "currency": settings_row.currency}
