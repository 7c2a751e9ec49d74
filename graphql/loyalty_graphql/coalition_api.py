"""Operations on the coalition (public) host: for members (member tokens) and for
the operator (operator keys), plus the public partner list."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.catalogue.selectors import catalogue_page
from coalition.charity.selectors import charity_statements
from coalition.charity.services import donation_make
from coalition.members.models import Member
from coalition.settlement import services as settlement
from coalition.settlement.models import SettlementPeriod
from coalition.transfers.services import household_pool, points_transfer
from loyalty_graphql.auth import Principal
from loyalty_graphql.base import LoyaltyMutation, permission_problem, principal_of
from loyalty_graphql.limits import page_size
from loyalty_graphql.partner_api import _member_by_number
from loyalty_graphql.types import MemberView, Money, decode_cursor, encode_cursor
from loyalty_kernel.money import money
from tenants.partners.models import Partner
from tenants.partners.selectors import partners_active

MEMBER = frozenset({"member"})
OPERATOR = frozenset({"operator"})


class PartnerInfo(graphene.ObjectType):
    slug = graphene.String(required=True)
    name = graphene.String(required=True)
    default_currency = graphene.String(required=True)
    status = graphene.String(required=True)


class CatalogueItem(graphene.ObjectType):
    partner = graphene.String(required=True)
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    points_price = graphene.BigInt(required=True)


class CatalogueConnection(graphene.relay.Connection):
    class Meta:
        node = CatalogueItem


class LiabilityLineView(graphene.ObjectType):
    issuer = graphene.String(required=True)
    outstanding_points = graphene.BigInt(required=True)
    value = graphene.Field(Money)


class LiabilityView(graphene.ObjectType):
    outstanding_points = graphene.BigInt(required=True)
    expired_points = graphene.BigInt(required=True)
    redeemed_points = graphene.BigInt(required=True)
    breakage_rate = graphene.String(required=True)
    lines = graphene.List(graphene.NonNull(LiabilityLineView), required=True)


class PeriodView(graphene.ObjectType):
    number = graphene.Int(required=True)
    status = graphene.String(required=True)
    start_watermark = graphene.BigInt(required=True)
    end_watermark = graphene.BigInt()
    coalition_margin = graphene.List(graphene.NonNull(Money), required=True)


class CharityMonthView(graphene.ObjectType):
    month = graphene.Date(required=True, description="The month's first day.")
    donations = graphene.Int(required=True)
    points = graphene.BigInt(required=True)


class CharityStatementView(graphene.ObjectType):
    charity = graphene.String(required=True, description="The charity's slug.")
    name = graphene.String(required=True)
    active = graphene.Boolean(required=True)
    months = graphene.List(
        graphene.NonNull(CharityMonthView), required=True, description="Newest first."
    )
    total_points = graphene.BigInt(required=True, description="Donated since the start.")
    ledger_balance = graphene.BigInt(
        required=True, description="What the charity's account holds: equals totalPoints."
    )


def period_view(period: SettlementPeriod) -> PeriodView:
    return PeriodView(
        number=period.number,
        status=period.status,
        start_watermark=period.start_watermark,
        end_watermark=period.end_watermark,
        coalition_margin=[money(v, c) for c, v in sorted(period.coalition_margin.items())],
    )


def _require(info: Any, kinds: frozenset[str], scope: str | None = None) -> Principal:
    principal = principal_of(info)
    problem = permission_problem(principal, kinds, scope)
    if problem:
        raise PermissionError(problem)
    return principal


class CoalitionOperations(graphene.ObjectType):
    partners = graphene.List(graphene.NonNull(PartnerInfo), required=True)
    me = graphene.Field(MemberView, description="The member of the member token.")
    catalogue = graphene.Field(
        CatalogueConnection,
        required=True,
        first=graphene.Int(),
        after=graphene.String(),
        max_points=graphene.BigInt(),
        partner=graphene.String(),
        search=graphene.String(),
    )
    liability = graphene.Field(LiabilityView, required=True)
    periods = graphene.List(graphene.NonNull(PeriodView), required=True, last=graphene.Int())
    charity_statements = graphene.List(
        graphene.NonNull(CharityStatementView),
        required=True,
        charity=graphene.String(description="A charity's slug; every charity without it."),
        last=graphene.Int(description="How many months, newest first (12 by default)."),
    )

    @staticmethod
    def resolve_partners(root: Any, info: Any) -> Any:
        return partners_active()

    @staticmethod
    def resolve_me(root: Any, info: Any) -> Member | None:
        principal = _require(info, MEMBER)
        return Member.objects.filter(pk=principal.member_id or 0).first()

    @staticmethod
    def resolve_catalogue(
        root: Any, info: Any, first: int | None = None, after: str | None = None,
        max_points: int | None = None, partner: str | None = None, search: str | None = None,
    ) -> CatalogueConnection:  # fmt: skip
        after_pair = None
        if after:
            value = decode_cursor(after) or 0
            after_pair = (value >> 32, value & 0xFFFFFFFF)
        partner_ids = (
            list(Partner.objects.filter(slug=partner).values_list("pk", flat=True))
            if partner
            else None
        )
        if partner_ids == []:  # an unknown slug matches nothing (the selector reads [] as "any")
            return CatalogueConnection(
                edges=[],
                page_info=graphene.relay.PageInfo(
                    has_next_page=False, has_previous_page=after is not None
                ),
            )
        page = catalogue_page(
            first=page_size(first),
            after=after_pair,
            max_points=max_points,
            partner_ids=partner_ids,
            search=search,
        )
        edges = [
            CatalogueConnection.Edge(
                node=CatalogueItem(
                    partner=e.partner.slug, code=e.code, name=e.name, points_price=e.points_price
                ),
                cursor=encode_cursor((e.points_price << 32) | e.pk),
            )
            for e in page.entries
        ]
        return CatalogueConnection(
            edges=edges,
            page_info=graphene.relay.PageInfo(
                has_next_page=page.next_after is not None,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @staticmethod
    def resolve_liability(root: Any, info: Any) -> LiabilityView:
        _require(info, OPERATOR, "operator")
        report = settlement.liability_report()
        names = dict(Partner.objects.values_list("pk", "slug"))
        return LiabilityView(
            outstanding_points=report.outstanding_points,
            expired_points=report.expired_points,
            redeemed_points=report.redeemed_points,
            breakage_rate=str(report.breakage_rate),
            lines=[
                LiabilityLineView(
                    issuer=names.get(line.issuer_id, str(line.issuer_id)),
                    outstanding_points=line.outstanding_points,
                    value=money(line.value, line.currency)
                    if line.value is not None and line.currency
                    else None,
                )
                for line in report.lines
            ],
        )

    @staticmethod
    def resolve_periods(root: Any, info: Any, last: int | None = None) -> list[PeriodView]:
        _require(info, OPERATOR, "operator")
        rows = SettlementPeriod.objects.order_by("-number")[: min(last or 12, 100)]
        return [period_view(period) for period in rows]

    @staticmethod
    def resolve_charity_statements(
        root: Any, info: Any, charity: str | None = None, last: int | None = None
    ) -> list[CharityStatementView]:
        _require(info, OPERATOR, "operator")
        return [
            CharityStatementView(
                charity=statement.charity.slug,
                name=statement.charity.name,
                active=statement.charity.is_active,
                months=[
                    CharityMonthView(
                        month=line.month.date(), donations=line.donations, points=line.points
                    )
                    for line in statement.lines
                ],
                total_points=statement.total_points,
                ledger_balance=statement.ledger_balance,
            )
            for statement in charity_statements(
                charity_slug=charity, months=last if last is not None else 12
            )
        ]


class TransferPoints(LoyaltyMutation):
    """Give points to another member (yearly caps per tier apply)."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        to_member_number = graphene.String(required=True)
        points = graphene.BigInt(required=True)

    balance_after = graphene.BigInt()
    allowed = MEMBER

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        assert principal.member_id is not None
        record = points_transfer(
            from_member_id=principal.member_id,
            to_member_id=_member_by_number(args["to_member_number"]).pk,
            points=args["points"],
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        from coalition.ledger.selectors import balance

        return {"balance_after": balance(record.from_member_id)}


class PoolToHousehold(LoyaltyMutation):
    class Arguments:
        idempotency_key = graphene.String(required=True)
        points = graphene.BigInt(required=True)

    points = graphene.BigInt()
    allowed = MEMBER

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        assert principal.member_id is not None
        record = household_pool(
            member_id=principal.member_id,
            points=args["points"],
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"points": record.points}


class DonatePoints(LoyaltyMutation):
    class Arguments:
        idempotency_key = graphene.String(required=True)
        charity = graphene.String(required=True)
        points = graphene.BigInt(required=True)

    points = graphene.BigInt()
    allowed = MEMBER

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        assert principal.member_id is not None
        donation = donation_make(
            member_id=principal.member_id,
            charity_slug=args["charity"],
            points=args["points"],
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"points": donation.points}


class ClosePeriod(LoyaltyMutation):
    """Close the open settlement period at the current ledger watermark (operator)."""

    class Arguments:
        idempotency_key = graphene.String(required=True)

    period = graphene.Field(PeriodView)
    allowed = OPERATOR
    scope = "operator"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        period = settlement.period_close(
            idempotency=cls.idempotency(principal, args["idempotency_key"])
        )
        return {"period": period_view(period)}


class PayOutPeriod(LoyaltyMutation):
    """Pay a closed period's statements through Stripe (operator). Safe to repeat:
    every Stripe call carries an idempotency key derived from its statement."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        number = graphene.Int(required=True)

    paid = graphene.Int()
    allowed = OPERATOR
    scope = "operator"

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        from coalition.settlement.stripe_gateway import pay_out_period

        period = SettlementPeriod.objects.filter(number=args["number"], status="closed").first()
        if period is None:
            raise settlement.SettlementError(f"no closed period {args['number']}", field="number")
        return {"paid": pay_out_period(period.pk)}


class CoalitionMutations(graphene.ObjectType):
    pay_out_period = PayOutPeriod.Field()
    transfer_points = TransferPoints.Field()
    pool_to_household = PoolToHousehold.Field()
    donate_points = DonatePoints.Field()
    close_period = ClosePeriod.Field()
