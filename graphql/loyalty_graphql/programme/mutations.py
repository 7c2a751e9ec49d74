"""Configuring the programme from a partner app: stores, earn rule drafts and
their publication, the value of a point. Each calls the service the console
calls; the audit log names the API key as the actor."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import graphene

from loyalty_graphql.base import Call, LoyaltyMutation
from loyalty_graphql.programme.types import (
    PointValueView,
    RuleVersionView,
    StoreView,
    point_value_view,
    rule_version_view,
    store_view,
)
from loyalty_kernel import clock
from tenants.earning import selectors as earning_selectors
from tenants.earning import services as earning
from tenants.earning.errors import InvalidRule, UnknownRuleVersion
from tenants.earning.models import EarnRule, RuleSetVersion
from tenants.rewards import services as rewards
from tenants.rewards.errors import InvalidPointValue
from tenants.stores import services as stores
from tenants.stores.models import Store


def _actor(call: Call) -> str:
    return f"API key {call.principal.key_id}"


def _version(number: int) -> RuleSetVersion:
    version = earning_selectors.rule_version(number)
    if version is None:
        raise UnknownRuleVersion(f"there is no rule version {number}")
    return version


def _version_payload(version: RuleSetVersion) -> dict[str, Any]:
    now = clock.now()
    version.refresh_from_db()
    return {
        "version": rule_version_view(
            version, now=now, in_force=earning_selectors.version_in_force(now)
        )
    }


class CreateStore(LoyaltyMutation):
    """Add a store; its code is how receipts name it and never changes."""

    class Arguments:
        code = graphene.String(required=True)
        name = graphene.String(required=True)
        channel = graphene.String(description="pos (default), online or app")
        time_zone = graphene.String(description="IANA name; default: the partner's")
        city = graphene.String()

    store = graphene.Field(StoreView)
    scope = "configure"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        store = stores.store_create(
            code=args["code"],
            name=args["name"],
            channel=args.get("channel") or "pos",
            time_zone=args.get("time_zone") or call.info.context.tenant.time_zone,
            city=args.get("city") or "",
            actor=_actor(call),
        )
        return {"store": store_view(store)}


class UpdateStore(LoyaltyMutation):
    """Change a store's name, channel, time zone or city (left out: unchanged)."""

    class Arguments:
        code = graphene.String(required=True)
        name = graphene.String()
        channel = graphene.String()
        time_zone = graphene.String()
        city = graphene.String()

    store = graphene.Field(StoreView)
    scope = "configure"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        store = stores.store_update(
            code=args["code"],
            name=args.get("name"),
            channel=args.get("channel"),
            time_zone=args.get("time_zone"),
            city=args.get("city"),
            actor=_actor(call),
        )
        return {"store": store_view(store)}


class _StoreOpeningChange(LoyaltyMutation):
    """Close or reopen a store, named by its code, through the stores service
    ``change``: answers the store."""

    class Meta:
        abstract = True

    class Arguments:
        code = graphene.String(required=True)

    store = graphene.Field(StoreView)
    scope = "configure"
    change: ClassVar[Callable[..., Store]]

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        return {"store": store_view(cls.change(code=args["code"], actor=_actor(call)))}


class CloseStore(_StoreOpeningChange):
    """Close a store: the public store locator stops listing it."""

    change = staticmethod(stores.store_close)


class ReopenStore(_StoreOpeningChange):
    change = staticmethod(stores.store_reopen)


class CreateRuleDraft(LoyaltyMutation):
    """Start a draft earn rule version, empty or with another version's rules."""

    class Arguments:
        description = graphene.String()
        copy_from_version = graphene.Int()

    version = graphene.Field(RuleVersionView)
    scope = "configure"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        source = args.get("copy_from_version")
        draft = earning.ruleset_draft_create(
            description=args.get("description") or "",
            copy_from=_version(source) if source is not None else None,
            actor=_actor(call),
        )
        return _version_payload(draft)


class AddEarnRule(LoyaltyMutation):
    """Add a rule to a draft. ``params`` is the rule kind's JSON object (see the
    API guide: base_rate {"rates": {"EUR": "1"}}, sku_bonus {"sku", "points_per_unit"}...)."""

    class Arguments:
        version = graphene.Int(required=True)
        kind = graphene.String(required=True)
        params = graphene.JSONString(required=True)
        name = graphene.String()

    version = graphene.Field(RuleVersionView)
    scope = "configure"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        params = args["params"]
        if not isinstance(params, dict):
            raise InvalidRule("params must be a JSON object", field="params")
        draft = _version(args["version"])
        earning.rule_add(
            version=draft,
            kind=args["kind"],
            params=params,
            name=args.get("name") or "",
            actor=_actor(call),
        )
        return _version_payload(draft)


class RemoveEarnRule(LoyaltyMutation):
    class Arguments:
        version = graphene.Int(required=True)
        rule_id = graphene.ID(required=True)

    version = graphene.Field(RuleVersionView)
    scope = "configure"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        draft = _version(args["version"])
        rule = EarnRule.objects.filter(version=draft, pk=_int(args["rule_id"])).first()
        if rule is None:
            raise InvalidRule(
                f"version {draft.number} has no rule {args['rule_id']}", field="rule_id"
            )
        earning.rule_remove(rule=rule, actor=_actor(call))
        return _version_payload(draft)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidRule(f"{value!r} is not a rule id", field="rule_id") from None


class PublishRuleVersion(LoyaltyMutation):
    """Publish a draft from ``effectiveFrom`` (now when left out; never in the
    past). A published version never changes; publishing it again is
    VERSION_PUBLISHED."""

    class Arguments:
        version = graphene.Int(required=True)
        effective_from = graphene.DateTime()

    version = graphene.Field(RuleVersionView)
    scope = "configure"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        now = clock.now()
        published = earning.ruleset_publish(
            version=_version(args["version"]),
            effective_from=args.get("effective_from") or now,
            now=now,
            actor=_actor(call),
        )
        return _version_payload(published)


class SetPointValue(LoyaltyMutation):
    """Set what one point pays for at the tills, in minor units of the partner's
    currency (a decimal string, up to four decimals: "1" = 0.01 EUR)."""

    class Arguments:
        value_per_point = graphene.String(required=True)

    point_value = graphene.Field(PointValueView)
    scope = "configure"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        try:
            value = Decimal(args["value_per_point"].strip())
        except InvalidOperation:
            raise InvalidPointValue("Enter a decimal number, like 1 or 0.5") from None
        settings_row = rewards.payment_value_set(value_per_point=value, actor=_actor(call))
        return {"point_value": point_value_view(settings_row)}
