"""Closing a settlement period and paying it out (operator)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.settlement import services as settlement
from coalition.settlement.errors import SettlementError
from coalition.settlement.models import SettlementPeriod
from coalition.settlement.stripe.gateway import pay_out_period
from loyalty_graphql.base import OPERATOR, Call, LoyaltyMutation, Replay
from loyalty_graphql.settlement.types import PeriodView, period_view


class ClosePeriod(LoyaltyMutation):
    """Close the open settlement period at the current ledger watermark (operator)."""

    period = graphene.Field(PeriodView)
    allowed = OPERATOR
    scope = "operator"
    # Its watermark is taken under a short lock of the journal, in a transaction
    # of its own that must not last as long as the whole close; a repeat returns
    # the period the key closed.
    replay = Replay.AFTER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        period = settlement.period_close(idempotency=call.idempotency)
        return {"period": period_view(period)}


class PayOutPeriod(LoyaltyMutation):
    """Pay a closed period's statements through Stripe (operator). Safe to repeat:
    every Stripe call carries an idempotency key derived from its statement."""

    class Arguments:
        number = graphene.Int(required=True)

    paid = graphene.Int()
    allowed = OPERATOR
    scope = "operator"
    # Stripe calls do not belong inside a database transaction; repeating is safe.
    replay = Replay.AFTER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        period = SettlementPeriod.objects.filter(number=args["number"], status="closed").first()
        if period is None:
            raise SettlementError(f"no closed period {args['number']}", field="number")
        return {"paid": pay_out_period(period.pk)}
