"""Redeeming rewards, using and cancelling vouchers, paying with points
(authorise, capture, void), for partner apps; a member redeeming a catalogue
reward by themselves, for member apps."""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_graphql.base import MEMBER, Call, LoyaltyMutation, member_id_of
from loyalty_graphql.members.inputs import member_by_number
from loyalty_graphql.rewards.types import (
    MemberVoucherView,
    PaymentView,
    VoucherView,
    member_voucher_view,
    payment_view,
    voucher_view,
)
from tenants.rewards import self_service
from tenants.rewards import services as rewards


class RedeemReward(LoyaltyMutation):
    class Arguments:
        member_number = graphene.String(required=True)
        reward_code = graphene.String(required=True)
        channel = graphene.String()

    voucher = graphene.Field(VoucherView)
    scope = "redeem"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        voucher = rewards.reward_redeem(
            member_id=member_by_number(args["member_number"]).pk,
            reward_code=args["reward_code"],
            channel=args.get("channel"),
            idempotency=call.idempotency,
        )
        return {"voucher": voucher_view(voucher)}


class _VoucherByCode(LoyaltyMutation):
    """What a partner app does to one voucher, named by its code: answers the
    voucher as it is afterwards."""

    class Meta:
        abstract = True

    class Arguments:
        code = graphene.String(required=True)

    voucher = graphene.Field(VoucherView)
    scope = "redeem"


class ConsumeVoucher(_VoucherByCode):
    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        voucher = rewards.voucher_consume(code=args["code"], idempotency=call.idempotency)
        return {"voucher": voucher_view(voucher)}


class CancelVoucher(_VoucherByCode):
    """Cancel an unused voucher: its points go back to the member."""

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        return {"voucher": voucher_view(rewards.voucher_cancel(code=args["code"]))}


class AuthorizePointsPayment(LoyaltyMutation):
    """Reserve the points that pay ``amount`` (minor units) of a basket."""

    class Arguments:
        member_number = graphene.String(required=True)
        amount = graphene.BigInt(required=True)
        reference = graphene.String()

    payment = graphene.Field(PaymentView)
    scope = "redeem"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        view = rewards.points_payment_authorize(
            member_id=member_by_number(args["member_number"]).pk,
            amount=args["amount"],
            reference=args.get("reference") or "",
            idempotency=call.idempotency,
        )
        return {"payment": payment_view(view)}


class CapturePointsPayment(LoyaltyMutation):
    class Arguments:
        payment_id = graphene.ID(required=True)
        amount = graphene.BigInt()

    payment = graphene.Field(PaymentView)
    scope = "redeem"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        view = rewards.points_payment_capture(
            payment_id=int(args["payment_id"]),
            amount=args.get("amount"),
            idempotency=call.idempotency,
        )
        return {"payment": payment_view(view)}


class VoidPointsPayment(LoyaltyMutation):
    class Arguments:
        payment_id = graphene.ID(required=True)

    payment = graphene.Field(PaymentView)
    scope = "redeem"

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        view = rewards.points_payment_void(
            payment_id=int(args["payment_id"]), idempotency=call.idempotency
        )
        return {"payment": payment_view(view)}


class RedeemCatalogueReward(LoyaltyMutation):
    """A member redeems any partner's reward from the coalition catalogue by
    themselves (member token). The reward's partner honours the voucher and is
    reimbursed through settlement, as for a redemption by its own app."""

    class Arguments:
        partner = graphene.String(required=True, description="The reward's partner (slug)")
        reward_code = graphene.String(required=True)

    voucher = graphene.Field(MemberVoucherView)
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        voucher = self_service.member_reward_redeem(
            member_id=member_id_of(call.principal),
            partner_slug=args["partner"],
            reward_code=args["reward_code"],
            idempotency=call.idempotency,
        )
        return {"voucher": member_voucher_view(voucher)}


class CancelMyVoucher(LoyaltyMutation):
    """A member cancels one of their own unused vouchers (member token): the points
    go back to their wallet and the reward back to the partner's stock. Another
    member's voucher is as unknown as a made-up code."""

    class Arguments:
        partner = graphene.String(required=True, description="The voucher's partner (slug)")
        code = graphene.String(required=True)

    voucher = graphene.Field(MemberVoucherView)
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        voucher = self_service.member_voucher_cancel(
            member_id=member_id_of(call.principal),
            partner_slug=args["partner"],
            code=args["code"],
        )
        return {"voucher": member_voucher_view(voucher)}
