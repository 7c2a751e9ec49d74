"""Closing a settlement period and paying it out (operator)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.settlement import services as settlement
from coalition.settlement.errors import SettlementError
from coalition.settlement.models import SettlementPeriod
from coalition.settlement.stripe.gateway import pay_out_period
from loyalty_graphql.base import OPERATOR, Call, LoyaltyMutation, Replay
from loyalty_graphql.settlement.types import PayoutView, PeriodView, payout_views, period_view


class ClosePeriod(LoyaltyMutation):
    """Close the open settlement period at the current ledger watermark (operator).
    Before the period is due this is PERIOD_NOT_DUE, unless ``force`` is given with
    a ``reason`` (recorded on the period)."""

    class Arguments:
        force = graphene.Boolean(default_value=False, description="Close before it is due.")
        reason = graphene.String(
            default_value="", description="Why a forced close happens early (required with force)."
        )

    period = graphene.Field(PeriodView)
    allowed = OPERATOR
    scope = "operator"
    # Its watermark is taken under a short lock of the journal, in a transaction
    # of its own that must not last as long as the whole close; a repeat returns
    # the period the key closed.
    replay = Replay.AFTER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        period = settlement.period_close(
            idempotency=call.idempotency,
            force=bool(args.get("force")),
            reason=args.get("reason") or "",
        )
        return {"period": period_view(period)}


class PayOutPeriod(LoyaltyMutation):
    """Pay a closed period's unpaid statements through Stripe (operator), each on its
    own: a refusal is reported on its payout (STRIPE_ERROR) and does not stop the
    others. Safe to repeat with a new key, which retries refused payouts: every
    Stripe call carries an idempotency key derived from its statement."""

    class Arguments:
        number = graphene.Int(required=True)

    paid = graphene.Int(description="Statements paid by this run.")
    payouts = graphene.List(graphene.NonNull(PayoutView), description="One per statement paid.")
    allowed = OPERATOR
    scope = "operator"
    # Stripe calls do not belong inside a database transaction; repeating is safe.
    replay = Replay.AFTER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        period = SettlementPeriod.objects.filter(number=args["number"], status="closed").first()
        if period is None:
            raise SettlementError(f"no closed period {args['number']}", field="number")
        run = pay_out_period(period.pk)
        return {"paid": run.paid, "payouts": payout_views(run.outcomes)}
