"""Statements, liability and settlement periods."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.settlement.models import SettlementPeriod
from loyalty_graphql.core.types import Money
from loyalty_kernel.money import money


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


def statement_lines(lines: Any, currency: str) -> list[StatementLineView]:
    return [
        StatementLineView(
            kind=line.kind,
            description=line.description,
            transactions=line.transactions,
            points=line.points,
            amount=money(line.amount, currency),
        )
        for line in lines
    ]


class PartnerLiability(graphene.ObjectType):
    outstanding_points = graphene.BigInt(
        required=True, description="Points this partner issued that members still hold."
    )
    value = graphene.Field(
        Money, description="At the partner's current issuance price; null without terms."
    )


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


def liability_value(value: Any, currency: str | None) -> Any:
    """The liability's money, or None when no terms price it."""
    return money(value, currency) if value is not None and currency else None


class PeriodView(graphene.ObjectType):
    number = graphene.Int(required=True)
    status = graphene.String(required=True)
    start_watermark = graphene.BigInt(required=True)
    end_watermark = graphene.BigInt()
    coalition_margin = graphene.List(graphene.NonNull(Money), required=True)


def period_view(period: SettlementPeriod) -> PeriodView:
    return PeriodView(
        number=period.number,
        status=period.status,
        start_watermark=period.start_watermark,
        end_watermark=period.end_watermark,
        coalition_margin=[money(v, c) for c, v in sorted(period.coalition_margin.items())],
    )
