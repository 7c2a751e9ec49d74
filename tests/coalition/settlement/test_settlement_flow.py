"""Close a period, read the statements, pay them through the Stripe fake, and let
a signed webhook mark one paid."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from coalition.ledger import services as ledger
from coalition.members.services import member_enrol
from coalition.settlement import services as settlement
from coalition.settlement.models import PaymentStatus, StripeEvent
from coalition.settlement.stripe import events, gateway
from loyalty_platform.devtools.stripe_fake import FakeStripeServer, signature_header
from tenants.partners.models import Partner
from tests.testkit.settlement import close_everything_before, close_now, known_terms

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripeServer]:
    server = FakeStripeServer().start()
    with override_settings(
        STRIPE_API_KEY="sk_test_fake", STRIPE_API_BASE=server.base_url,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    ):  # fmt: skip
        yield server
    server.stop()


def test_period_statements_payouts_and_webhook(
    db: None, partner_a: Partner, partner_b: Partner, stripe_fake: FakeStripeServer
) -> None:
    # given everything earlier closed (other tests commit events), then known terms:
    # A sells points at 1.0 cent, honours at 0.8; B sells at 1.2, honours at 0.9
    first = close_everything_before()
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8")
    known_terms(partner_b, issuance_price="1.2", reimbursement_rate="0.9")
    member = member_enrol(email="settle@example.com")
    earned = ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1000)
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=600)
    ledger.reverse(transaction_id=earned.transaction_id, points=100)

    period = close_now()
    assert period.number == first.number + 1
    statements = {s.partner_id: s for s in period.statements.all()}
    # A: issued 1000 x 1.0 = 1000, returned 100 x 1.0 = -100 -> pays 900 (EUR)
    assert statements[partner_a.pk].net_amount == 900
    # B: redeemed 600 x 0.9 = -540 -> receives 540 (GBP)
    assert statements[partner_b.pk].net_amount == -540
    assert period.coalition_margin == {"EUR": 900, "GBP": -540}
    obligations = list(period.obligations.values_list("debtor_id", "creditor_id", "points"))
    assert obligations == [(partner_a.pk, partner_b.pk, 600)]
    assert settlement.period_close(period=period) == period  # idempotent

    Partner.objects.filter(pk=partner_b.pk).update(stripe_account_id="acct_fakeB")
    assert gateway.pay_out_period(period.pk).paid == 2
    assert gateway.pay_out_period(period.pk).paid == 0
    assert len(stripe_fake.state.created("transfers")) == 1
    assert len(stripe_fake.state.created("invoices")) == 1
    assert gateway.reconcile() == []

    transfer = stripe_fake.state.created("transfers")[0]
    event = {"id": "evt_1", "object": "event", "type": "transfer.created",
             "data": {"object": transfer}}  # fmt: skip
    payload = json.dumps(event)
    client = Client(HTTP_HOST="localhost")
    bad = client.post("/stripe/webhook", payload, content_type="application/json",
                      HTTP_STRIPE_SIGNATURE="t=1,v1=deadbeef")  # fmt: skip
    assert bad.status_code == 400
    assert not StripeEvent.objects.exists()
    signature = signature_header(payload, WEBHOOK_SECRET)
    for _ in range(2):
        ok = client.post("/stripe/webhook", payload, content_type="application/json",
                         HTTP_STRIPE_SIGNATURE=signature)  # fmt: skip
        assert ok.status_code == 200
    assert StripeEvent.objects.count() == 1
    assert events.process_event("evt_1") == "succeeded"
    statements[partner_b.pk].refresh_from_db()
    assert statements[partner_b.pk].payment_status == PaymentStatus.PAID
