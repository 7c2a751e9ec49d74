"""Operations for partner apps (tills, e-shops, mobile apps), on a partner's host,
authenticated by that partner's API key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import graphene

from coalition.members import selectors as member_selectors
from coalition.members.errors import UnknownMember
from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.settlement import services as settlement
from loyalty_graphql.auth import Principal
from loyalty_graphql.base import LoyaltyMutation, permission_problem, principal_of
from loyalty_graphql.types import MemberView, Money
from loyalty_kernel.money import money
from loyalty_kernel.tenancy import current_tenant
from tenants.purchases import services as purchases
from tenants.rewards import services as rewards
from tenants.rewards.models import Reward

PARTNER = frozenset({"partner"})


def require(info: Any, scope: str) -> Principal:
    principal = principal_of(info)
    problem = permission_problem(principal, PARTNER, scope)
    if problem:
        raise PermissionError(problem)
    return principal


# --- inputs ------------------------------------------------------------------------


class MemberLookup(graphene.InputObjectType):
    email = graphene.String()
    member_number = graphene.String()
    card_number = graphene.String()


class ReceiptLineInput(graphene.InputObjectType):
    sku = graphene.String(required=True)
    category = graphene.String(required=True)
    quantity = graphene.Int(required=True)
    unit_price = graphene.BigInt(required=True, description="Minor units.")
    discount = graphene.BigInt(description="Minor units, for the whole line.")


class ReceiptInput(graphene.InputObjectType):
    external_id = graphene.String(required=True)
    member_number = graphene.String(required=True)
    occurred_at = graphene.DateTime(required=True)
    currency = graphene.String(required=True)
    total = graphene.BigInt(required=True, description="Minor units.")
    tax = graphene.BigInt()
    tip = graphene.BigInt()
    paid_with_points = graphene.BigInt(description="Minor units of the total paid with points.")
    channel = graphene.String()
    store_code = graphene.String()
    lines = graphene.List(graphene.NonNull(ReceiptLineInput), required=True)


def _member_by_number(number: str) -> Member:
    member = member_selectors.member_by_number(number)
    if member is None:
        raise UnknownMember(f"no member with number {number!r}", field="member_number")
    return member


def receipt_from(data: Any) -> purchases.Receipt:
    if len(data.lines) > 500:
        raise ValueError("a receipt has at most 500 lines")
    occurred_at: datetime = data.occurred_at
    return purchases.Receipt(
        external_id=data.external_id,
        member_id=None,
        member_number=data.member_number,
        occurred_at=occurred_at,
        currency=data.currency.upper(),
        lines=tuple(
            purchases.ReceiptLine(
                line.sku, line.category, line.quantity, line.unit_price, line.discount or 0
            )
            for line in data.lines
        ),
        total=data.total,
        tax=data.tax or 0,
        tip=data.tip or 0,
        paid_with_points=data.paid_with_points or 0,
        channel=data.channel or "pos",
        store_code=data.store_code,
    )


# --- types ----------------------------------------------------------------------------


class Contribution(graphene.ObjectType):
    source = graphene.String(required=True)
    kind = graphene.String(required=True)
    description = graphene.String(required=True)
    points = graphene.String(required=True, description="Decimal: before rounding.")


class PointsBreakdown(graphene.ObjectType):
    points = graphene.BigInt(required=True)
    rule_points = graphene.BigInt(required=True)
    campaign_points = graphene.BigInt(required=True)
    contributions = graphene.List(graphene.NonNull(Contribution), required=True)


def breakdown_view(details: dict[str, Any], total: int | None = None) -> PointsBreakdown:
    campaign = sum(int(v) for v in details.get("campaign_points", {}).values())
    return PointsBreakdown(
        points=total if total is not None else details["rule_points"] + campaign,
        rule_points=details["rule_points"],
        campaign_points=campaign,
        contributions=[
            Contribution(**{k: c[k] for k in ("source", "kind", "description", "points")})
            for c in details.get("contributions", [])
        ],
    )


class PurchaseView(graphene.ObjectType):
    external_id = graphene.String(required=True)
    points = graphene.BigInt(required=True)
    balance_after = graphene.BigInt()
    rule_version = graphene.Int()
    breakdown = graphene.Field(PointsBreakdown, required=True)


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


class StatementLineView(graphene.ObjectType):
    kind = graphene.String(required=True)
    description = graphene.String(required=True)
    transactions = graphene.Int(required=True)
    points = graphene.BigInt(required=True)
    amount = graphene.Field(Money, required=True)


class StatementView(graphene.ObjectType):
    period = graphene.Int()
    net = graphene.Field(Money, required=True, description="Positive: the partner pays.")
    payment_status = graphene.String()
    lines = graphene.List(graphene.NonNull(StatementLineView), required=True)


class PartnerLiability(graphene.ObjectType):
    outstanding_points = graphene.BigInt(
        required=True, description="Points this partner issued that members still hold."
    )
    value = graphene.Field(
        Money, description="At the partner's current issuance price; null without terms."
    )


# --- queries ----------------------------------------------------------------------------


class PartnerOperations(graphene.ObjectType):
    member = graphene.Field(MemberView, lookup=MemberLookup(required=True))
    purchase_preview = graphene.Field(PointsBreakdown, receipt=ReceiptInput(required=True))
    rewards = graphene.List(graphene.NonNull(RewardView), required=True)
    voucher = graphene.Field(VoucherView, code=graphene.String(required=True))
    statements = graphene.List(graphene.NonNull(StatementView), required=True, last=graphene.Int())
    live_position = graphene.Field(StatementView, required=True)
    liability = graphene.Field(
        PartnerLiability, required=True, description="This partner's share of the liability."
    )

    @staticmethod
    def resolve_member(root: Any, info: Any, lookup: Any) -> Member | None:
        require(info, "read")
        if lookup.member_number:
            return member_selectors.member_by_number(lookup.member_number)
        if lookup.card_number:
            return member_selectors.member_by_card(lookup.card_number)
        if lookup.email:
            return member_selectors.member_by_email(lookup.email)
        raise ValueError("give an email, a member number or a card number")

    @staticmethod
    def resolve_purchase_preview(root: Any, info: Any, receipt: Any) -> PointsBreakdown:
        require(info, "earn")
        breakdown = purchases.purchase_preview(receipt_from(receipt))
        return breakdown_view(breakdown.as_dict(), breakdown.total)

    @staticmethod
    def resolve_rewards(root: Any, info: Any) -> list[RewardView]:
        require(info, "read")
        return [
            RewardView(
                code=r.code,
                name=r.name,
                points_price=r.points_price,
                in_stock=r.stock is None or r.stock > 0,
            )
            for r in Reward.objects.filter(is_active=True).order_by("points_price", "code")[:100]
        ]

    @staticmethod
    def resolve_voucher(root: Any, info: Any, code: str) -> VoucherView:
        require(info, "redeem")
        return voucher_view(rewards.voucher_validate(code=code))

    @staticmethod
    def resolve_statements(root: Any, info: Any, last: int | None = None) -> list[StatementView]:
        require(info, "settlement")
        partner = current_tenant()
        from coalition.settlement.models import Statement

        rows = (
            Statement.objects.filter(partner_id=partner.pk)
            .select_related("period")
            .prefetch_related("lines")
            .order_by("-period__number")[: min(last or 12, 100)]
        )
        return [
            StatementView(
                period=s.period.number,
                net=money(s.net_amount, s.currency),
                payment_status=s.payment_status,
                lines=[
                    StatementLineView(
                        kind=line.kind,
                        description=line.description,
                        transactions=line.transactions,
                        points=line.points,
                        amount=money(line.amount, s.currency),
                    )
                    for line in s.lines.all()
                ],
            )
            for s in rows
        ]

    @staticmethod
    def resolve_live_position(root: Any, info: Any) -> StatementView:
        require(info, "settlement")
        draft = settlement.live_position(current_tenant())
        return StatementView(
            period=None,
            net=money(draft.net, draft.currency),
            payment_status=None,
            lines=[
                StatementLineView(
                    kind=line.kind,
                    description=line.description,
                    transactions=line.transactions,
                    points=line.points,
                    amount=money(line.amount, draft.currency),
                )
                for line in draft.lines
            ],
        )

    @staticmethod
    def resolve_liability(root: Any, info: Any) -> PartnerLiability:
        principal = require(info, "settlement")
        assert principal.partner_id is not None
        line = settlement.issuer_liability(partner_id=principal.partner_id)
        return PartnerLiability(
            outstanding_points=line.outstanding_points,
            value=money(line.value, line.currency)
            if line.value is not None and line.currency
            else None,
        )


# --- mutations ----------------------------------------------------------------------------


class EnrolMember(LoyaltyMutation):
    """Enrol a member with only an e-mail address (idempotent by key)."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        email = graphene.String(required=True)
        phone = graphene.String()
        marketing_email_consent = graphene.Boolean()

    member = graphene.Field(MemberView)
    scope = "members"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        member = member_enrol(
            email=args["email"],
            phone=args.get("phone"),
            enrolled_by_partner_id=principal.partner_id,
            marketing_email_consent=bool(args.get("marketing_email_consent")),
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"member": member}


class RecordPurchase(LoyaltyMutation):
    """Record a receipt and award its points with the rules in force when it happened."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        receipt = ReceiptInput(required=True)

    purchase = graphene.Field(PurchaseView)
    scope = "earn"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        result = purchases.purchase_record(
            receipt_from(args["receipt"]),
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {
            "purchase": PurchaseView(
                external_id=result.external_id,
                points=result.points,
                balance_after=result.balance_after,
                rule_version=result.rule_version,
                breakdown=breakdown_view(result.breakdown, result.points),
            )
        }


class ReturnLineInput(graphene.InputObjectType):
    line_number = graphene.Int(required=True)
    quantity = graphene.Int(required=True)


class ReturnPurchase(LoyaltyMutation):
    """Return lines of a purchase: their share of the points is reversed."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        external_id = graphene.String(required=True)
        lines = graphene.List(graphene.NonNull(ReturnLineInput), required=True)

    points_reversed = graphene.BigInt()
    shortfall = graphene.BigInt()
    scope = "earn"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        lines: dict[int, int] = {}
        for line in args["lines"]:
            lines[line.line_number] = lines.get(line.line_number, 0) + line.quantity
        result = purchases.purchase_return(
            external_id=args["external_id"],
            lines=lines,
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"points_reversed": result.points_reversed, "shortfall": result.shortfall}


class RedeemReward(LoyaltyMutation):
    class Arguments:
        idempotency_key = graphene.String(required=True)
        member_number = graphene.String(required=True)
        reward_code = graphene.String(required=True)
        channel = graphene.String()

    voucher = graphene.Field(VoucherView)
    scope = "redeem"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        voucher = rewards.reward_redeem(
            member_id=_member_by_number(args["member_number"]).pk,
            reward_code=args["reward_code"],
            channel=args.get("channel"),
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"voucher": voucher_view(voucher)}


class ConsumeVoucher(LoyaltyMutation):
    class Arguments:
        idempotency_key = graphene.String(required=True)
        code = graphene.String(required=True)

    voucher = graphene.Field(VoucherView)
    scope = "redeem"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        voucher = rewards.voucher_consume(
            code=args["code"], idempotency=cls.idempotency(principal, args["idempotency_key"])
        )
        return {"voucher": voucher_view(voucher)}


class AuthorizePointsPayment(LoyaltyMutation):
    """Reserve the points that pay ``amount`` (minor units) of a basket."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        member_number = graphene.String(required=True)
        amount = graphene.BigInt(required=True)
        reference = graphene.String()

    payment = graphene.Field(PaymentView)
    scope = "redeem"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        view = rewards.points_payment_authorize(
            member_id=_member_by_number(args["member_number"]).pk,
            amount=args["amount"],
            reference=args.get("reference") or "",
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"payment": payment_view(view)}


class CapturePointsPayment(LoyaltyMutation):
    class Arguments:
        idempotency_key = graphene.String(required=True)
        payment_id = graphene.ID(required=True)
        amount = graphene.BigInt()

    payment = graphene.Field(PaymentView)
    scope = "redeem"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        view = rewards.points_payment_capture(
            payment_id=int(args["payment_id"]),
            amount=args.get("amount"),
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"payment": payment_view(view)}


class VoidPointsPayment(LoyaltyMutation):
    class Arguments:
        idempotency_key = graphene.String(required=True)
        payment_id = graphene.ID(required=True)

    payment = graphene.Field(PaymentView)
    scope = "redeem"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        view = rewards.points_payment_void(
            payment_id=int(args["payment_id"]),
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"payment": payment_view(view)}


class IssueMemberToken(LoyaltyMutation):
    """A token for the member's own app on the coalition host, issued by a partner
    app that has authenticated the member itself (valid 12 hours)."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        member_number = graphene.String(required=True)

    token = graphene.String()
    scope = "members"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        from loyalty_graphql.auth import member_token_issue

        member = _member_by_number(args["member_number"])
        if not member.is_active:
            from coalition.members.errors import MemberNotActive

            raise MemberNotActive(f"member {member.member_number} is {member.status}")
        return {"token": member_token_issue(member.pk)}


class AwardBehaviour(LoyaltyMutation):
    """Award a behavioural event (sign-up, review, newsletter, profile completion,
    birthday) as often as this partner's rule allows."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        member_number = graphene.String(required=True)
        event = graphene.String(required=True)
        reference = graphene.String()

    points = graphene.BigInt()
    scope = "earn"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        from tenants.earning.services import behaviour_award

        # The award slot (member, event, period, n) is unique: a retry cannot award
        # twice; it answers AWARD_LIMIT_REACHED once the allowance is used.
        result = behaviour_award(
            member_id=_member_by_number(args["member_number"]).pk,
            event=args["event"],
            reference=args.get("reference") or args["idempotency_key"],
        )
        return {"points": result.points}


class RecordReferral(LoyaltyMutation):
    """Record a referral; both members earn if it passes the fraud checks, and a
    refused one is recorded with its reason."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        referrer_number = graphene.String(required=True)
        referee_number = graphene.String(required=True)

    accepted = graphene.Boolean()
    reason = graphene.String()
    referrer_points = graphene.BigInt()
    referee_points = graphene.BigInt()
    scope = "earn"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        from tenants.earning.services import referral_record

        result = referral_record(
            referrer_id=_member_by_number(args["referrer_number"]).pk,
            referee_id=_member_by_number(args["referee_number"]).pk,
        )
        return {
            "accepted": result.accepted,
            "reason": result.reason or None,
            "referrer_points": result.referrer_points,
            "referee_points": result.referee_points,
        }


class CancelVoucher(LoyaltyMutation):
    """Cancel an unused voucher: its points go back to the member."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        code = graphene.String(required=True)

    voucher = graphene.Field(VoucherView)
    scope = "redeem"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        return {"voucher": voucher_view(rewards.voucher_cancel(code=args["code"]))}


class PartnerMutations(graphene.ObjectType):
    award_behaviour = AwardBehaviour.Field()
    record_referral = RecordReferral.Field()
    cancel_voucher = CancelVoucher.Field()
    issue_member_token = IssueMemberToken.Field()
    enrol_member = EnrolMember.Field()
    record_purchase = RecordPurchase.Field()
    return_purchase = ReturnPurchase.Field()
    redeem_reward = RedeemReward.Field()
    consume_voucher = ConsumeVoucher.Field()
    authorize_points_payment = AuthorizePointsPayment.Field()
    capture_points_payment = CapturePointsPayment.Field()
    void_points_payment = VoidPointsPayment.Field()
