"""A partner's statements, live position and liability share (partner host); the
coalition's liability, periods and a period's netting (operator, public host)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.settlement import overview
from coalition.settlement import services as settlement
from coalition.settlement.models import SettlementPeriod, Statement
from loyalty_graphql.base import OPERATOR, PARTNER, partner_id_of, require
from loyalty_graphql.settlement.types import (
    LiabilityLineView,
    LiabilityView,
    NettingView,
    PartnerLiability,
    PeriodView,
    StatementView,
    liability_value,
    netting_view,
    period_view,
    statement_lines,
)
from loyalty_kernel.money import money
from loyalty_kernel.tenancy import current_tenant
from tenants.partners.models import Partner


class PartnerSettlementQueries(graphene.ObjectType):
    statements = graphene.List(graphene.NonNull(StatementView), required=True, last=graphene.Int())
    live_position = graphene.Field(StatementView, required=True)
    liability = graphene.Field(
        PartnerLiability, required=True, description="This partner's share of the liability."
    )

    @staticmethod
    def resolve_statements(root: Any, info: Any, last: int | None = None) -> list[StatementView]:
        require(info, PARTNER, "settlement")
        partner = current_tenant()
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
                lines=statement_lines(s.lines.all(), s.currency),
            )
            for s in rows
        ]

    @staticmethod
    def resolve_live_position(root: Any, info: Any) -> StatementView:
        require(info, PARTNER, "settlement")
        draft = settlement.live_position(current_tenant())
        return StatementView(
            period=None,
            net=money(draft.net, draft.currency),
            payment_status=None,
            lines=statement_lines(draft.lines, draft.currency),
        )

    @staticmethod
    def resolve_liability(root: Any, info: Any) -> PartnerLiability:
        principal = require(info, PARTNER, "settlement")
        line = settlement.issuer_liability(partner_id=partner_id_of(principal))
        return PartnerLiability(
            outstanding_points=line.outstanding_points,
            value=liability_value(line.value, line.currency),
            held_points=line.held_points,
        )


class CoalitionSettlementQueries(graphene.ObjectType):
    liability = graphene.Field(LiabilityView, required=True)
    periods = graphene.List(graphene.NonNull(PeriodView), required=True, last=graphene.Int())
    netting = graphene.Field(
        NettingView,
        required=True,
        period=graphene.Int(required=True),
        description="A period's bilateral obligations and the netted transfers that settle "
        "them; SETTLEMENT_PERIOD_UNKNOWN if no period has that number.",
    )

    @staticmethod
    def resolve_liability(root: Any, info: Any) -> LiabilityView:
        require(info, OPERATOR, "operator")
        report = settlement.liability_report()
        names = dict(Partner.objects.values_list("pk", "slug"))
        return LiabilityView(
            outstanding_points=report.outstanding_points,
            expired_points=report.expired_points,
            redeemed_points=report.redeemed_points,
            held_points=report.held_points,
            breakage_rate=str(report.breakage_rate),
            goodwill_points=report.goodwill_points,
            goodwill_held_points=report.goodwill_held_points,
            lines=[
                LiabilityLineView(
                    issuer=names.get(line.issuer_id, str(line.issuer_id)),
                    outstanding_points=line.outstanding_points,
                    value=liability_value(line.value, line.currency),
                    held_points=line.held_points,
                )
                for line in report.lines
            ],
        )

    @staticmethod
    def resolve_periods(root: Any, info: Any, last: int | None = None) -> list[PeriodView]:
        require(info, OPERATOR, "operator")
        rows = SettlementPeriod.objects.order_by("-number")[: min(last or 12, 100)]
        return [period_view(period) for period in rows]

    @staticmethod
    def resolve_netting(root: Any, info: Any, period: int) -> NettingView:
        require(info, OPERATOR, "operator")
        return netting_view(overview.period_netting(period))
