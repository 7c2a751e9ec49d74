"""Connect onboarding and reconciliation against the Stripe fake, driven by the
official SDK."""

from __future__ import annotations

import pytest

from coalition.ledger import services as ledger
from coalition.settlement.models import PaymentStatus, Statement
from coalition.settlement.stripe import gateway
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tenants.partners.models import Partner
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    onboard_partner,
    paid_period,
    statement_of,
)


def test_connect_onboarding_creates_one_account_and_returns_the_link(
    db: None, fake_stripe: FakeStripeServer
) -> None:
    # given a partner without a connected account
    partner = onboard_partner("connect", "EUR")
    stale = Partner.objects.get(pk=partner.pk)  # another request's copy, read now

    # when the onboarding link is asked for twice, and once more from the stale copy
    urls = [
        gateway.connect_onboarding_link(
            partner=who, refresh_url="https://x.example/r", return_url="https://x.example/ok"
        )
        for who in (partner, partner, stale)
    ]

    # then Stripe created one account, which the partner keeps
    accounts = fake_stripe.state.created("accounts")
    assert len(accounts) == 1
    account_id = accounts[0]["id"]
    assert accounts[0]["type"] == "express"
    assert accounts[0]["metadata"] == {"partner": partner.slug}
    partner.refresh_from_db()
    assert partner.stripe_account_id == account_id
    # (the stale copy's request was answered from the idempotency key: one object)
    assert fake_stripe.state.count("POST", "/v1/accounts") == 2
    # and each call returned an onboarding link to that account
    assert urls == [f"http://stripe-fake.invalid/onboarding/{account_id}"] * 3
    links = fake_stripe.state.created("account_links")
    assert len(links) == 3
    assert {link["type"] for link in links} == {"account_onboarding"}
    assert {link["return_url"] for link in links} == {"https://x.example/ok"}


def test_payouts_transfer_to_receivers_and_invoice_payers(
    db: None, fake_stripe: FakeStripeServer
) -> None:
    # given a period paid out: the payer owes 1000, the payee is owed 600 x 0.5 = 300
    period, invoiced, transferred = paid_period()

    # then the payee got one transfer of 300 to its account, keyed by its statement
    (transfer,) = fake_stripe.state.created("transfers")
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (
        300, "eur", "acct_payee",
    )  # fmt: skip
    assert transfer["metadata"]["statement"] == str(transferred.pk)
    keys = [key for method, path, key in fake_stripe.state.requests if path == "/v1/transfers"]
    assert keys == [f"loyalty-statement-{transferred.pk}-transfer"]
    # and the payer one finalised invoice of 1000
    (invoice,) = fake_stripe.state.created("invoices")
    assert (invoice["amount_due"], invoice["currency"], invoice["status"]) == (1000, "eur", "open")
    # (its one item is bound to it, so it can never land on another invoice)
    (item,) = fake_stripe.state.created("invoiceitems")
    assert (item["invoice"], item["amount"], item["metadata"]["statement"]) == (
        invoice["id"], 1000, str(invoiced.pk),
    )  # fmt: skip
    transferred.refresh_from_db()
    invoiced.refresh_from_db()
    assert (transferred.payment_status, transferred.stripe_object_id) == (
        PaymentStatus.TRANSFER_SENT, transfer["id"],
    )  # fmt: skip
    assert (invoiced.payment_status, invoiced.stripe_object_id) == (
        PaymentStatus.INVOICED, invoice["id"],
    )  # fmt: skip
    # and paying again does nothing
    assert gateway.pay_out_period(period.pk).paid == 0
    assert len(fake_stripe.state.created("transfers")) == 1
    assert fake_stripe.state.count("POST", "/v1/transfers") == 1


def test_a_receiver_without_connected_account_is_not_paid(
    db: None, fake_stripe: FakeStripeServer
) -> None:
    # given a net receiver that has not finished Connect onboarding:
    # issued 100 x 0.1 = 10, redeemed 100 x 1.0 = -100 -> is owed 90
    payee = onboard_partner("unconnected", "GBP")
    known_terms(payee, issuance_price="0.1", reimbursement_rate="1.0")
    close_everything_before()
    member = new_member()
    ledger.earn(member_id=member, partner_id=payee.pk, points=100)
    ledger.burn(member_id=member, partner_id=payee.pk, points=100)
    period = close_now()
    statement = statement_of(period, payee)
    assert statement.net_amount == -90

    # when its statement is paid, alone or with its period
    with pytest.raises(gateway.PartnerNotOnboarded):
        gateway.pay_out_statement(statement.pk)
    assert gateway.pay_out_period(period.pk).paid == 0

    # then nothing reached Stripe and the statement waits, pending
    assert fake_stripe.state.count("POST", "/v1/transfers") == 0
    statement.refresh_from_db()
    assert (statement.payment_status, statement.stripe_object_id) == (PaymentStatus.PENDING, "")


def test_reconcile_reports_missing_and_different_objects(
    db: None, fake_stripe: FakeStripeServer
) -> None:
    # given a period paid out, in agreement with Stripe
    _period, invoiced, transferred = paid_period()
    ours = {invoiced.pk, transferred.pk}

    def differences() -> list[tuple[int | None, str | None, str]]:
        return sorted(
            (d.statement_id, d.stripe_object_id, d.problem)
            for d in gateway.reconcile()
            if d.statement_id in ours
        )

    assert differences() == []

    # when Stripe's transfer says another amount, and the invoice is gone
    transfer_id, invoice_id = transferred.stripe_object_id, invoiced.stripe_object_id
    fake_stripe.state.objects["transfers"][transfer_id]["amount"] = 299
    del fake_stripe.state.objects["invoices"][invoice_id]

    # then reconciliation reports both, per statement
    assert differences() == sorted([
        (transferred.pk, transfer_id, "amount 299 at Stripe, 300 on the statement"),
        (invoiced.pk, invoice_id, "missing at Stripe"),
    ])  # fmt: skip

    # and an object at Stripe for a statement that never recorded it is reported too
    fake_stripe.state.objects["transfers"][transfer_id]["amount"] = 300
    Statement.objects.filter(pk=transferred.pk).update(stripe_object_id="")
    assert (transferred.pk, transfer_id, "created at Stripe but not recorded on the statement") in (
        differences()
    )
