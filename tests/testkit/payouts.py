"""Periods to pay for the operator console's payout tests (import as
``tests.testkit.payouts``): a closed period whose statements wait to be paid,
and one paid through the Stripe fake with one transfer refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from coalition.ledger import services as ledger
from coalition.settlement.models import SettlementPeriod, Statement
from coalition.settlement.stripe import gateway
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tenants.partners.models import Partner
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    onboard_partner,
    statement_of,
)

REFUSAL = {"code": "balance_insufficient", "message": "Insufficient funds in Stripe balance."}


@dataclass(frozen=True)
class PeriodToPay:
    """A payer invoiced 1000 and two receivers owed 255 (``refused``) and 90."""

    period: SettlementPeriod
    payer: Partner
    refused: Partner
    paid: Partner

    def statement(self, partner: Partner) -> Statement:
        return statement_of(self.period, partner)


def period_to_pay() -> PeriodToPay:
    """A closed period with three unpaid statements, every partner connected."""
    payer = onboard_partner("payer", "EUR")
    refused = onboard_partner("refused", "EUR")
    paid = onboard_partner("paid", "EUR")
    for partner in (payer, refused, paid):
        known_terms(partner, issuance_price="1.0", reimbursement_rate="0.5")
    close_everything_before()
    member = new_member()
    ledger.earn(member_id=member, partner_id=payer.pk, points=1000)
    ledger.burn(member_id=member, partner_id=refused.pk, points=510)
    ledger.burn(member_id=member, partner_id=paid.pk, points=180)
    for partner in (refused, paid):
        Partner.objects.filter(pk=partner.pk).update(stripe_account_id=f"acct_{partner.slug}")
    # paid by the test, not by the job a close queues when Stripe is configured
    return PeriodToPay(close_now(enqueue_payouts=False), payer, refused, paid)


def refuse_transfers_to(stripe: FakeStripeServer, partner: Partner) -> None:
    stripe.state.refuse("/v1/transfers", destination=f"acct_{partner.slug}", **REFUSAL)


def period_with_a_refused_payout(stripe: FakeStripeServer) -> PeriodToPay:
    """``period_to_pay``, paid out with Stripe refusing the transfer to ``refused``;
    Stripe accepts it again afterwards."""
    period = period_to_pay()
    refuse_transfers_to(stripe, period.refused)
    run = gateway.pay_out_period(period.period.pk)
    if run.paid != 2 or len(run.failed) != 1:
        raise AssertionError(f"expected two paid and one refused: {run}")
    stripe.state.stop_refusing()
    return period


@contextmanager
def eager_jobs() -> Iterator[None]:
    """Jobs run in the calling thread (at commit), whatever broker the environment names."""
    from loyalty_platform.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


def refused_payout_between(payer: Partner, receiver: Partner) -> PeriodToPay:
    """A closed period where ``payer`` is invoiced 1000 and ``receiver``'s transfer of
    250 was refused by Stripe (recorded as the gateway records a refusal), without
    onboarding new partners: quick enough for a permission matrix."""
    from coalition.settlement.models import PaymentStatus

    for partner in (payer, receiver):
        known_terms(partner, issuance_price="1.0", reimbursement_rate="0.5")
    close_everything_before()
    member = new_member()
    ledger.earn(member_id=member, partner_id=payer.pk, points=1000)
    ledger.burn(member_id=member, partner_id=receiver.pk, points=500)
    Partner.objects.filter(pk=receiver.pk).update(stripe_account_id=f"acct_{receiver.slug}")
    period = close_now(enqueue_payouts=False)
    Statement.objects.filter(period=period, partner=receiver).update(
        payment_status=PaymentStatus.PAYOUT_ERROR,
        payout_attempts=1,
        payout_key_round=1,
        payout_error_code=REFUSAL["code"],
        payout_error_message=REFUSAL["message"],
    )
    return PeriodToPay(period, payer, receiver, receiver)
