"""Statements, liability and settlement periods."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.settlement.models import SettlementPeriod, Statement
from coalition.settlement.overview import PeriodNetting
from coalition.settlement.stripe.gateway import PayoutOutcome
from loyalty_graphql.core.types import Money
from loyalty_graphql.errors import Error, error_of
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
    held_points = graphene.BigInt(
        required=True,
        description="This partner's points in pending holds: neither outstanding nor redeemed.",
    )


class LiabilityLineView(graphene.ObjectType):
    issuer = graphene.String(required=True)
    outstanding_points = graphene.BigInt(required=True)
    value = graphene.Field(Money)
    held_points = graphene.BigInt(required=True)


class LiabilityView(graphene.ObjectType):
    outstanding_points = graphene.BigInt(required=True)
    expired_points = graphene.BigInt(required=True)
    redeemed_points = graphene.BigInt(required=True)
    held_points = graphene.BigInt(
        required=True,
        description="Points in pending holds: no longer outstanding, not redeemed until captured.",
    )
    breakage_rate = graphene.String(required=True)
    lines = graphene.List(graphene.NonNull(LiabilityLineView), required=True)
    goodwill_points = graphene.BigInt(
        required=True,
        description=(
            "Outstanding points the coalition gave itself (goodwill): in outstandingPoints, "
            "in no issuer's line, not valued."
        ),
    )
    goodwill_held_points = graphene.BigInt(
        required=True, description="Coalition goodwill points in pending holds (in heldPoints)."
    )


def liability_value(value: Any, currency: str | None) -> Any:
    """The liability's money, or None when no terms price it."""
    return money(value, currency) if value is not None and currency else None


class PeriodView(graphene.ObjectType):
    number = graphene.Int(required=True)
    status = graphene.String(required=True)
    start_watermark = graphene.BigInt(required=True)
    end_watermark = graphene.BigInt()
    coalition_margin = graphene.List(graphene.NonNull(Money), required=True)
    closed_early = graphene.Boolean(
        required=True, description="Closed before the calendar said it was due (forced)."
    )
    close_reason = graphene.String(
        required=True, description="Why it was forced closed early; empty otherwise."
    )


def period_view(period: SettlementPeriod) -> PeriodView:
    return PeriodView(
        number=period.number,
        status=period.status,
        start_watermark=period.start_watermark,
        end_watermark=period.end_watermark,
        coalition_margin=[money(v, c) for c, v in sorted(period.coalition_margin.items())],
        closed_early=period.closed_early,
        close_reason=period.close_reason,
    )


class ObligationView(graphene.ObjectType):
    """Before netting: the issuer of the points owes the partner where they were spent."""

    debtor = graphene.String(required=True, description="The issuer's slug.")
    creditor = graphene.String(required=True, description="The redeeming partner's slug.")
    points = graphene.BigInt(required=True, description="The issuer's points spent there.")
    amount = graphene.Field(Money, required=True, description="At the creditor's rate.")


class NettedTransferView(graphene.ObjectType):
    """One of the fewest payments that settle the period's obligations."""

    payer = graphene.String(required=True, description="The paying partner's slug.")
    payee = graphene.String(required=True, description="The receiving partner's slug.")
    amount = graphene.Field(Money, required=True)


class NettingView(graphene.ObjectType):
    period = graphene.Int(required=True)
    status = graphene.String(
        required=True, description="open, closing or closed: only a closed period has netting."
    )
    obligations = graphene.List(
        graphene.NonNull(ObligationView), required=True, description="Largest first per currency."
    )
    transfers = graphene.List(
        graphene.NonNull(NettedTransferView),
        required=True,
        description="At most n - 1 per currency for n partners with a position.",
    )


def netting_view(netting: PeriodNetting) -> NettingView:
    return NettingView(
        period=netting.period.number,
        status=netting.period.status,
        obligations=[
            ObligationView(
                debtor=o.debtor.slug,
                creditor=o.creditor.slug,
                points=o.points,
                amount=money(o.amount, o.currency),
            )
            for o in netting.obligations
        ],
        transfers=[
            NettedTransferView(
                payer=t.payer.slug, payee=t.payee.slug, amount=money(t.amount, t.currency)
            )
            for t in netting.transfers
        ],
    )


class PayoutView(graphene.ObjectType):
    """One statement's payout in a payout run: a partner's or a charity's."""

    statement_id = graphene.ID(required=True)
    recipient = graphene.String(required=True, description="The partner's or charity's slug.")
    recipient_kind = graphene.String(required=True, description="partner or charity")
    net = graphene.Field(Money, required=True, description="Positive: the partner pays.")
    status = graphene.String(required=True, description="The statement's payment status.")
    stripe_object_id = graphene.String(
        required=True, description="The transfer or invoice; empty when not paid."
    )
    error = graphene.Field(
        Error,
        description="STRIPE_ERROR when Stripe refused it (retried later with backoff); "
        "PARTNER_NOT_ONBOARDED or CHARITY_NOT_ONBOARDED when it waits for Connect.",
    )
    stripe_error_code = graphene.String(
        required=True, description="Stripe's own error code of the last refusal; empty if none."
    )
    attempts = graphene.Int(required=True, description="Calls Stripe refused so far.")
    retry_at = graphene.DateTime(description="When the payout job tries again.")


def payout_views(outcomes: list[PayoutOutcome]) -> list[PayoutView]:
    statements = Statement.objects.select_related("partner", "charity").in_bulk(
        [outcome.statement_id for outcome in outcomes]
    )
    views = []
    for outcome in outcomes:
        statement = statements[outcome.statement_id]
        recipient = statement.partner or statement.charity
        views.append(
            PayoutView(
                statement_id=str(statement.pk),
                recipient=recipient.slug if recipient else "",
                recipient_kind="partner" if statement.partner_id else "charity",
                net=money(statement.net_amount, statement.currency),
                status=outcome.status,
                stripe_object_id=outcome.stripe_object_id,
                error=error_of(outcome.error) if outcome.error else None,
                stripe_error_code=statement.payout_error_code,
                attempts=statement.payout_attempts,
                retry_at=outcome.retry_at,
            )
        )
    return views
