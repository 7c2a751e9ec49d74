"""Rewards, vouchers and points payments, and the coalition-wide catalogue."""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_graphql.core.types import Money
from loyalty_kernel.money import money
from tenants.rewards import services as rewards


class RewardView(graphene.ObjectType):
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    points_price = graphene.BigInt(required=True)
    in_stock = graphene.Boolean(required=True)


class VoucherView(graphene.ObjectType):
    code = graphene.String(required=True)
    reward = graphene.String(required=True)
    points = graphene.BigInt(required=True)
    status = graphene.String(required=True)
    expires_at = graphene.DateTime(required=True)


def voucher_view(voucher: Any) -> VoucherView:
    return VoucherView(
        code=voucher.code,
        reward=voucher.reward.code,
        points=voucher.points,
        status=voucher.status,
        expires_at=voucher.expires_at,
    )


class PaymentView(graphene.ObjectType):
    payment_id = graphene.ID(required=True)
    points = graphene.BigInt(required=True)
    amount = graphene.Field(Money, required=True)
    status = graphene.String(required=True)
    balance_after = graphene.BigInt(required=True)


def payment_view(view: rewards.PaymentView) -> PaymentView:
    return PaymentView(
        payment_id=str(view.payment_id),
        points=view.points,
        amount=money(view.amount, view.currency),
        status=view.status,
        balance_after=view.balance_after,
    )


class CatalogueItem(graphene.ObjectType):
    partner = graphene.String(required=True)
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    points_price = graphene.BigInt(required=True)
    category = graphene.String(
        required=True, description="As the partner typed it; empty when it has none."
    )


class CatalogueConnection(graphene.relay.Connection):
    class Meta:
        node = CatalogueItem


class MemberVoucherView(graphene.ObjectType):
    """A member's own voucher, from any partner: the partner honours it at its tills."""

    partner = graphene.String(required=True, description="The partner's slug")
    partner_name = graphene.String(required=True)
    code = graphene.String(required=True)
    reward = graphene.String(required=True, description="The reward's code")
    reward_name = graphene.String(required=True)
    points = graphene.BigInt(required=True)
    status = graphene.String(required=True, description="issued, consumed or cancelled")
    expires_at = graphene.DateTime(required=True)
    issued_at = graphene.DateTime(required=True)
    consumed_at = graphene.DateTime(description="When the partner's till used it")
    cancelled_at = graphene.DateTime(description="When it was cancelled (points given back)")


def member_voucher_view(voucher: Any) -> MemberVoucherView:
    return MemberVoucherView(
        partner=voucher.partner_slug,
        partner_name=voucher.partner_name,
        code=voucher.code,
        reward=voucher.reward_code,
        reward_name=voucher.reward_name,
        points=voucher.points,
        status=voucher.status,
        expires_at=voucher.expires_at,
        issued_at=voucher.issued_at,
        consumed_at=voucher.consumed_at,
        cancelled_at=voucher.cancelled_at,
    )
