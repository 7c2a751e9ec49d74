"""Each statement's payout is its own unit: a payout Stripe refuses is recorded with
Stripe's code and message, retried by a job with backoff under a new key, and
never stops the period's other payouts. The close-period and pay-out commands
report it. Driven through the official SDK against the Stripe fake, made to
refuse one partner's transfer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.settlement.errors import PayoutRefused
from coalition.settlement.models import PaymentStatus, SettlementPeriod, Statement
from coalition.settlement.stripe import gateway
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tenants.partners.models import Partner
from tests.testkit.payouts import REFUSAL, period_to_pay, refuse_transfers_to
from tests.testkit.settlement import (
    close_everything_before,
    known_terms,
    new_member,
    onboard_partner,
    statement_of,
)


def _three_payouts() -> tuple[SettlementPeriod, Partner, Partner, Partner]:
    """A payer (invoiced 1000) and two receivers (255 and 90), all connected:
    (period, payer, the receiver Stripe will refuse, the paid receiver)."""
    period = period_to_pay()
    return period.period, period.payer, period.refused, period.paid


def test_a_refused_transfer_does_not_stop_the_other_payouts(
    db: None, fake_stripe: FakeStripeServer
) -> None:
    # given a period with three payouts, and Stripe refusing one receiver's transfer
    period, payer, refused, paid = _three_payouts()
    refuse_transfers_to(fake_stripe, refused)
    now = timezone.now()

    # when the period is paid out
    run = gateway.pay_out_period(period.pk, now=now)

    # then the other two are paid: one transfer, one invoice
    assert run.paid == 2
    (transfer,) = fake_stripe.state.created("transfers")
    assert (transfer["destination"], transfer["amount"]) == (f"acct_{paid.slug}", 90)
    assert statement_of(period, paid).payment_status == PaymentStatus.TRANSFER_SENT
    assert statement_of(period, payer).payment_status == PaymentStatus.INVOICED
    # and the refused one keeps Stripe's code and message, and when it is retried
    statement = statement_of(period, refused)
    assert (statement.net_amount, statement.stripe_object_id) == (-255, "")
    assert (statement.payment_status, statement.payout_attempts) == (PaymentStatus.PAYOUT_ERROR, 1)
    assert (statement.payout_error_code, statement.payout_error_message) == (
        REFUSAL["code"], REFUSAL["message"],
    )  # fmt: skip
    assert statement.payout_retry_at == now + gateway.FIRST_RETRY
    # and the run says so, with a typed error
    (failed,) = run.failed
    assert failed.statement_id == statement.pk
    assert isinstance(failed.error, PayoutRefused)
    assert (failed.error.code, failed.error.stripe_code) == ("stripe_error", "balance_insufficient")


def test_the_retry_job_pays_a_refused_payout_after_its_backoff_with_a_new_key(
    db: None, fake_stripe: FakeStripeServer
) -> None:
    # given a transfer Stripe refused once
    period, _payer, refused, _paid = _three_payouts()
    refuse_transfers_to(fake_stripe, refused)
    now = timezone.now()
    gateway.pay_out_period(period.pk, now=now)
    statement = statement_of(period, refused)

    # when the job runs before the backoff has passed, then nothing is tried
    assert gateway.retry_payouts(now=now + timedelta(seconds=30)).outcomes == []
    # and when Stripe still refuses, the wait doubles
    second = now + gateway.FIRST_RETRY
    assert gateway.retry_payouts(now=second).paid == 0
    statement.refresh_from_db()
    assert statement.payout_attempts == 2
    assert statement.payout_retry_at == second + 2 * gateway.FIRST_RETRY

    # when Stripe accepts again and the job runs after the backoff
    fake_stripe.state.stop_refusing()
    run = gateway.retry_payouts(now=second + 2 * gateway.FIRST_RETRY)

    # then the transfer is made, once, and the statement is clean
    assert run.paid == 1
    statement.refresh_from_db()
    assert statement.payment_status == PaymentStatus.TRANSFER_SENT
    assert (statement.payout_error_code, statement.payout_retry_at) == ("", None)
    transfers = [t for t in fake_stripe.state.created("transfers") if t["amount"] == 255]
    assert len(transfers) == 1
    assert transfers[0]["metadata"]["statement"] == str(statement.pk)
    # (Stripe keeps a refused request's answer under its key: each attempt after a
    # refusal used a new key, still derived from the statement)
    base = statement.idempotency_base
    keys = [
        key
        for method, path, key in fake_stripe.state.requests
        if path == "/v1/transfers" and key and key.startswith(f"{base}-")
    ]
    assert keys == [f"{base}-transfer", f"{base}-transfer-1", f"{base}-transfer-2"]
    # and nothing is left for the job
    assert gateway.retry_payouts(now=second + timedelta(days=1)).outcomes == []


def test_the_job_gives_up_after_its_last_attempt(db: None, fake_stripe: FakeStripeServer) -> None:
    # given a transfer Stripe always refuses
    period, _payer, refused, _paid = _three_payouts()
    refuse_transfers_to(fake_stripe, refused)
    now = timezone.now()
    gateway.pay_out_period(period.pk, now=now)

    # when the job runs long after every backoff, as often as it may try
    for attempt in range(gateway.MAX_PAYOUT_ATTEMPTS):
        gateway.retry_payouts(now=now + timedelta(days=attempt + 1))

    # then it stopped at the last attempt, with no retry planned; the statement
    # waits for an operator (``loyalty pay-out``)
    statement = statement_of(period, refused)
    assert statement.payout_attempts == gateway.MAX_PAYOUT_ATTEMPTS
    assert (statement.payment_status, statement.payout_retry_at) == (
        PaymentStatus.PAYOUT_ERROR, None,
    )  # fmt: skip


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_close_period_prints_statements_then_payouts_and_says_how_to_retry(
    db: None, fake_stripe: FakeStripeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # given an open period with three payouts to make, one of which Stripe refuses
    payer, refused, paid = (onboard_partner(p, "EUR") for p in ("cpayer", "crefused", "cpaid"))
    for partner in (payer, refused, paid):
        known_terms(partner, issuance_price="1.0", reimbursement_rate="0.5")
    close_everything_before()
    member = new_member()
    ledger.earn(member_id=member, partner_id=payer.pk, points=1000)
    ledger.burn(member_id=member, partner_id=refused.pk, points=510)
    ledger.burn(member_id=member, partner_id=paid.pk, points=180)
    for partner in (refused, paid):
        Partner.objects.filter(pk=partner.pk).update(stripe_account_id=f"acct_{partner.slug}")
    refuse_transfers_to(fake_stripe, refused)

    # when the operator closes the period now, without a broker
    with pytest.raises(CommandError) as failed:
        call_command("close_period", "--force", "--reason", "year-end audit")
    out = capsys.readouterr().out

    # then the period is closed, and the command printed the statements, in
    # currency units, then each payout's result
    period = SettlementPeriod.objects.get(pk=statement_of_partner(refused).period_id)
    assert (period.status, period.closed_early, period.close_reason) == (
        "closed", True, "year-end audit",
    )  # fmt: skip
    statements, payouts = out.split("Payouts:")
    lines = {
        partner.name: next(line.split() for line in statements.splitlines() if partner.name in line)
        for partner in (payer, refused, paid)
    }
    assert lines[payer.name][-4:] == ["pays", "10.00", "EUR", "[pending]"]
    assert lines[refused.name][-4:] == ["receives", "2.55", "EUR", "[pending]"]
    assert lines[paid.name][-4:] == ["receives", "0.90", "EUR", "[pending]"]
    refused_line = next(line for line in payouts.splitlines() if refused.name in line)
    assert "FAILED balance_insufficient: Insufficient funds" in refused_line
    paid_line = next(line for line in payouts.splitlines() if paid.name in line)
    assert "transfer_sent" in paid_line
    # and it failed (non-zero) only for the refusal, saying how to retry
    assert f"loyalty pay-out {period.number}" in str(failed.value)

    # when Stripe accepts again and the operator retries with the new command
    fake_stripe.state.stop_refusing()
    call_command("pay_out", str(period.number))
    retried = capsys.readouterr().out

    # then the refused payout is made, and the command succeeds
    assert "transfer_sent" in next(line for line in retried.splitlines() if refused.name in line)
    assert statement_of_partner(refused).payment_status == PaymentStatus.TRANSFER_SENT
    assert len(fake_stripe.state.created("transfers")) == 2


def test_close_period_refuses_a_period_not_due_without_force(db: None) -> None:
    # given an open period that opened now
    close_everything_before()
    period = SettlementPeriod.objects.get(status="open")

    # when the command runs without --force, then it is refused and nothing closes
    with pytest.raises(CommandError, match="period_not_due"):
        call_command("close_period")
    # and --force without --reason is refused too
    with pytest.raises(CommandError, match="close_reason_missing"):
        call_command("close_period", "--force")
    period.refresh_from_db()
    assert period.status == "open"


def statement_of_partner(partner: Partner) -> Statement:
    return Statement.objects.filter(partner=partner).latest("pk")
