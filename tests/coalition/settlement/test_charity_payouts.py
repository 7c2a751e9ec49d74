"""Charities are settled like partners: each period a charity that received
donations gets a statement (one line: the points donated x its point value) and
is paid by a Stripe Connect transfer keyed by that statement."""

from __future__ import annotations

import uuid
from decimal import Decimal

from coalition.charity.models import Charity
from coalition.charity.services import charity_create, donation_make
from coalition.ledger import services as ledger
from coalition.settlement.errors import CharityNotOnboarded
from coalition.settlement.models import LineKind, PaymentStatus, Statement
from coalition.settlement.stripe import gateway
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    lines_of,
    nets_per_currency,
    new_member,
    onboard_partner,
)


def _charity(point_value: str, *, connected: bool) -> Charity:
    slug = f"shelter-{uuid.uuid4().hex[:8]}"
    charity = charity_create(
        slug=slug, name="Night shelter", currency="EUR", point_value=Decimal(point_value)
    )
    if connected:
        Charity.objects.filter(pk=charity.pk).update(stripe_account_id=f"acct_{slug}")
        charity.refresh_from_db()
    return charity


def test_a_charity_gets_a_statement_for_the_points_donated_and_is_paid_by_transfer(
    db: None, fake_stripe: FakeStripeServer
) -> None:
    # given a charity valuing a point at 0.5 cent, and a member who earned 1000
    # points at a partner (issuance at 1.0) and donates 300 of them, then 101
    partner = onboard_partner("donor", "EUR")
    known_terms(partner, issuance_price="1.0", reimbursement_rate="1.0")
    charity = _charity("0.5", connected=True)
    close_everything_before()
    member = new_member()
    ledger.earn(member_id=member, partner_id=partner.pk, points=1000)
    donation_make(member_id=member, charity_slug=charity.slug, points=300)
    donation_make(member_id=member, charity_slug=charity.slug, points=101)

    # when the period closes
    period = close_now()

    # then the charity has a statement: 401 points donated x 0.5 = 200.5 -> 201,
    # which the coalition pays it
    statement = Statement.objects.get(period=period, charity=charity)
    assert statement.partner_id is None
    assert lines_of(statement) == [(LineKind.DONATED, 401, -201)]
    assert (statement.net_amount, statement.currency, statement.payment_status) == (
        -201, "EUR", PaymentStatus.PENDING,
    )  # fmt: skip
    line = statement.lines.get()
    assert (line.transactions, line.rate) == (2, Decimal("0.5"))
    # and the coalition's margin still equals what partners pay net of what it
    # pays out, charity included
    assert nets_per_currency(period) == period.coalition_margin

    # when the period is paid out
    run = gateway.pay_out_period(period.pk)

    # then the charity got one transfer to its connected account, keyed by its statement
    ours = [
        t for t in fake_stripe.state.created("transfers") if t["destination"].endswith(charity.slug)
    ]
    assert len(ours) == 1
    (transfer,) = ours
    assert (transfer["amount"], transfer["currency"]) == (201, "eur")
    assert transfer["metadata"]["statement"] == str(statement.pk)
    keys = [key for _method, path, key in fake_stripe.state.requests if path == "/v1/transfers"]
    assert f"loyalty-statement-{statement.pk}-transfer" in keys
    assert statement.pk in {outcome.statement_id for outcome in run.outcomes}
    statement.refresh_from_db()
    assert (statement.payment_status, statement.stripe_object_id) == (
        PaymentStatus.TRANSFER_SENT, transfer["id"],
    )  # fmt: skip
    # and paying again makes no second transfer, and Stripe agrees with the books
    gateway.pay_out_period(period.pk)
    assert fake_stripe.state.count("POST", "/v1/transfers") == len(keys)
    assert [d for d in gateway.reconcile() if d.statement_id == statement.pk] == []


def test_a_charity_without_a_connected_account_waits(
    db: None, fake_stripe: FakeStripeServer
) -> None:
    # given donations to a charity that has not finished Connect onboarding
    partner = onboard_partner("donor", "EUR")
    known_terms(partner, issuance_price="1.0", reimbursement_rate="1.0")
    charity = _charity("1.0", connected=False)
    close_everything_before()
    member = new_member()
    ledger.earn(member_id=member, partner_id=partner.pk, points=100)
    donation_make(member_id=member, charity_slug=charity.slug, points=40)
    period = close_now()

    # when the period is paid out
    run = gateway.pay_out_period(period.pk)

    # then the charity's payout waits, pending, saying why; nothing reached Stripe
    statement = Statement.objects.get(period=period, charity=charity)
    (outcome,) = [o for o in run.outcomes if o.statement_id == statement.pk]
    assert isinstance(outcome.error, CharityNotOnboarded)
    assert not outcome.failed
    statement.refresh_from_db()
    assert (statement.payment_status, statement.stripe_object_id) == (PaymentStatus.PENDING, "")
    assert fake_stripe.state.count("POST", "/v1/transfers") == 0
