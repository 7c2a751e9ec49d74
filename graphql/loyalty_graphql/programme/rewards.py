"""Configuring rewards from a partner app, as staff do on the console's reward
pages: create, update, retire and restore, through the same services (scope
``configure``); the audit log names the API key as the actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import graphene

from loyalty_graphql.base import Call, LoyaltyMutation
from loyalty_kernel import clock
from tenants.rewards import selectors as reward_selectors
from tenants.rewards import services as rewards
from tenants.rewards.models import Reward


def _actor(call: Call) -> str:
    return f"API key {call.principal.key_id}"


class RewardSettingsView(graphene.ObjectType):
    """A reward as its partner configures it."""

    code = graphene.String(required=True)
    name = graphene.String(required=True)
    description = graphene.String(required=True)
    category = graphene.String(required=True)
    points_price = graphene.Int(required=True)
    stock = graphene.Int(description="How many more can be redeemed; null: no limit.")
    per_member_limit = graphene.Int(description="Redemptions per member; null: no limit.")
    valid_from = graphene.DateTime()
    valid_until = graphene.DateTime()
    channels = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="pos, online, app; empty: every channel.",
    )
    voucher_validity_days = graphene.Int(required=True)
    in_catalogue = graphene.Boolean(
        required=True, description="Offered to every member in the coalition catalogue."
    )
    state = graphene.String(
        required=True,
        description="active, not_yet_valid, expired, out_of_stock or retired (when answered)",
    )


def reward_settings_view(reward: Reward) -> dict[str, Any]:
    """The reward's settings as its audit rows show them, with its state now in
    place of the on-sale flag."""
    view = rewards.reward_state(reward)
    del view["is_active"]
    view["state"] = reward_selectors.reward_state_at(reward, clock.now())
    return view


def _sorted_channels(arguments: dict[str, Any]) -> dict[str, Any]:
    if arguments.get("channels") is not None:
        return {**arguments, "channels": sorted(set(arguments["channels"]))}
    return arguments


class _RewardChange(LoyaltyMutation):
    """A change to one reward's configuration: answers the reward's settings. The
    channels given are a set: their order is no part of the request."""

    class Meta:
        abstract = True

    reward = graphene.Field(RewardSettingsView)
    scope = "configure"

    @classmethod
    def fingerprinted(cls, arguments: dict[str, Any]) -> dict[str, Any]:
        return _sorted_channels(arguments)


class CreateReward(_RewardChange):
    """Create a reward; its code is how tills and vouchers name it and never changes.
    A code another reward has is REWARD_CODE_TAKEN; a broken rule INVALID_REWARD
    with the field it names."""

    class Arguments:
        code = graphene.String(required=True)
        name = graphene.String(required=True)
        points_price = graphene.Int(required=True)
        description = graphene.String()
        category = graphene.String()
        stock = graphene.Int(description="Left out: no limit.")
        per_member_limit = graphene.Int(description="Left out: no limit.")
        valid_from = graphene.DateTime()
        valid_until = graphene.DateTime()
        channels = graphene.List(
            graphene.NonNull(graphene.String), description="pos, online, app; none: every one."
        )
        voucher_validity_days = graphene.Int(description="Default 90.")
        in_catalogue = graphene.Boolean(description="Default true.")

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        days = args.get("voucher_validity_days")
        in_catalogue = args.get("in_catalogue")
        reward = rewards.reward_create(
            code=args["code"],
            name=args["name"],
            points_price=args["points_price"],
            description=args.get("description") or "",
            category=args.get("category") or "",
            stock=args.get("stock"),
            per_member_limit=args.get("per_member_limit"),
            valid_from=args.get("valid_from"),
            valid_until=args.get("valid_until"),
            channels=list(args.get("channels") or []),
            voucher_validity_days=90 if days is None else days,
            in_catalogue=True if in_catalogue is None else in_catalogue,
            actor=_actor(call),
        )
        return {"reward": reward_settings_view(reward)}


# Settings where an explicit null means "no limit"; for the others null is "unchanged".
NULL_IS_NO_LIMIT = ("stock", "per_member_limit", "valid_from", "valid_until")


class UpdateReward(_RewardChange):
    """Change a reward's settings: a setting left out stays as it is; ``stock``,
    ``perMemberLimit``, ``validFrom`` and ``validUntil`` given as null remove the
    limit. The code never changes."""

    class Arguments:
        code = graphene.String(required=True)
        name = graphene.String()
        points_price = graphene.Int()
        description = graphene.String()
        category = graphene.String()
        stock = graphene.Int()
        per_member_limit = graphene.Int()
        valid_from = graphene.DateTime()
        valid_until = graphene.DateTime()
        channels = graphene.List(graphene.NonNull(graphene.String))
        voucher_validity_days = graphene.Int()
        in_catalogue = graphene.Boolean()

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        code = args.pop("code")
        changes = {
            name: value
            for name, value in args.items()
            if value is not None or name in NULL_IS_NO_LIMIT
        }
        reward = rewards.reward_update(code=code, actor=_actor(call), **changes)
        return {"reward": reward_settings_view(reward)}


class _RewardSaleChange(_RewardChange):
    """Take a reward, named by its code, off sale or put it back, through the
    rewards service ``change``."""

    class Meta:
        abstract = True

    class Arguments:
        code = graphene.String(required=True)

    change: ClassVar[Callable[..., Reward]]

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        reward = cls.change(code=args["code"], actor=_actor(call))
        return {"reward": reward_settings_view(reward)}


class RetireReward(_RewardSaleChange):
    """Take a reward off sale: nobody can redeem it and it leaves the catalogue;
    vouchers already issued stay valid. Retiring a retired reward changes nothing."""

    change = staticmethod(rewards.reward_retire)


class RestoreReward(_RewardSaleChange):
    """Put a retired reward back on sale with the settings it had."""

    change = staticmethod(rewards.reward_restore)
