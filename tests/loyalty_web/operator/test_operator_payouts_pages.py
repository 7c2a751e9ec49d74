"""The payout pages of the operator console, driven through the Stripe fake: the
payouts list with each statement's Stripe state and Stripe's reason for a
refusal (filters, CSV); the retry of a refused payout (a double press pays once,
audited; a payout that is not refused is refused with a typed error and nothing
changes); a period's payout run as a job with its progress; the reconciliation's
differences; the charity statements of a period."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.charity.models import Charity
from coalition.charity.services import charity_create, donation_make
from coalition.ledger import services as ledger
from coalition.settlement import payout_services
from coalition.settlement.errors import PayoutNotFailed
from coalition.settlement.models import PaymentStatus, PayoutJob, PayoutJobKind, PayoutJobStatus
from coalition.settlement.stripe import gateway
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tests.testkit.operator import login_as
from tests.testkit.payouts import (
    REFUSAL,
    PeriodToPay,
    eager_jobs,
    period_to_pay,
    period_with_a_refused_payout,
    refuse_transfers_to,
)
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    onboard_partner,
    running_stripe_fake,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe() -> Iterator[FakeStripeServer]:
    with running_stripe_fake() as server, eager_jobs():
        yield server


@pytest.fixture
def refused(stripe: FakeStripeServer) -> PeriodToPay:
    return period_with_a_refused_payout(stripe)


def _finance(partner: Any) -> Any:
    client, _user = login_as("finance", partner)
    return client


def _transfers_to(stripe: FakeStripeServer, period: PeriodToPay) -> list[dict[str, Any]]:
    return [
        t for t in stripe.state.created("transfers")
        if t["destination"] == f"acct_{period.refused.slug}"
    ]  # fmt: skip


def test_the_payouts_page_shows_each_stripe_state_and_stripes_reason(
    refused: PeriodToPay,
) -> None:
    # given a period paid out with one transfer refused, and finance signed in
    client = _finance(refused.payer)
    number = refused.period.number

    # when they open the period's payouts
    html = client.get("/operator/settlement/payouts/", {"period": number}).content.decode()

    # then each statement shows its Stripe state: the invoice, the transfer, the refusal
    assert "Invoiced" in html
    assert "Transfer sent" in html
    assert "Refused by Stripe" in html
    assert refused.payer.name in html
    assert refused.refused.name in html
    assert f"{REFUSAL['code']}: {REFUSAL['message']}" in html
    statement = refused.statement(refused.refused)
    assert f'href="/operator/settlement/payouts/{statement.pk}/retry/"' in html
    # and the state filter keeps only the refused one
    only = client.get(
        "/operator/settlement/payouts/", {"period": number, "status": "payout_error"}
    ).content.decode()
    assert refused.refused.name in only
    assert refused.payer.name not in only


def test_the_payouts_csv_has_every_statement_the_filters_choose(refused: PeriodToPay) -> None:
    client = _finance(refused.payer)
    # when finance downloads the period's payouts
    response = client.get(
        "/operator/settlement/payouts/", {"period": refused.period.number, "format": "csv"}
    )
    # then each statement is a row with its state, Stripe object and Stripe's reason
    assert response["Content-Type"].startswith("text/csv")
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0].startswith("statement,period,payee_or_payer,kind,currency,amount,stripe_state")
    assert len(rows) == 4
    refused_row = next(row for row in rows if refused.refused.name in row)
    assert ",255,payout_error,," in refused_row
    assert REFUSAL["message"] in refused_row


def test_a_double_press_on_retry_pays_the_refused_payout_once_and_is_audited(
    refused: PeriodToPay, stripe: FakeStripeServer
) -> None:
    # given finance on the retry page of the refused payout
    client = _finance(refused.payer)
    statement = refused.statement(refused.refused)
    url = f"/operator/settlement/payouts/{statement.pk}/retry/"
    page = client.get(url).content.decode()
    assert REFUSAL["message"] in page
    assert 'name="idempotency_key"' in page

    # when they press the button twice (the same form)
    key = uuid.uuid4().hex
    first = client.post(url, {"idempotency_key": key})
    second = client.post(url, {"idempotency_key": key})

    # then the statement is paid by one transfer
    assert first.status_code == second.status_code == 302
    (transfer,) = _transfers_to(stripe, refused)
    assert transfer["amount"] == 255
    statement.refresh_from_db()
    assert (statement.payment_status, statement.stripe_object_id) == (
        PaymentStatus.TRANSFER_SENT, transfer["id"],
    )  # fmt: skip
    assert (statement.payout_error_code, statement.payout_error_message) == ("", "")
    # and the retry is audited once, with the operator, before and after
    (entry,) = AuditEntry.objects.filter(action="settlement.payout_retry")
    assert entry.object_id == str(statement.pk)
    assert entry.before is not None
    assert entry.after is not None
    assert entry.before["payment_status"] == PaymentStatus.PAYOUT_ERROR
    assert entry.after["stripe_object_id"] == transfer["id"]
    assert PayoutJob.objects.filter(kind=PayoutJobKind.RETRY, statement=statement).count() == 1
    # and the list says so
    html = client.get(first["Location"]).content.decode()
    assert "Paid: Stripe accepted the payout." in html


def test_a_retry_stripe_refuses_again_keeps_stripes_reason(
    refused: PeriodToPay, stripe: FakeStripeServer
) -> None:
    # given Stripe still refusing the transfer
    refuse_transfers_to(stripe, refused.refused)
    client = _finance(refused.payer)
    statement = refused.statement(refused.refused)

    # when finance retries it
    response = client.post(
        f"/operator/settlement/payouts/{statement.pk}/retry/",
        {"idempotency_key": uuid.uuid4().hex},
        follow=True,
    )

    # then it is refused again, counted, with Stripe's reason on the page
    statement.refresh_from_db()
    assert (statement.payment_status, statement.payout_attempts) == (PaymentStatus.PAYOUT_ERROR, 2)
    assert not _transfers_to(stripe, refused)
    assert f"Stripe refused the payout again: {REFUSAL['message']}" in response.content.decode()
    assert AuditEntry.objects.filter(action="settlement.payout_retry").count() == 1


def test_retrying_a_payout_that_is_not_refused_is_refused_and_changes_nothing(
    refused: PeriodToPay, stripe: FakeStripeServer
) -> None:
    # given the payer's invoice, which Stripe did not refuse
    client = _finance(refused.payer)
    statement = refused.statement(refused.payer)
    requests, audits = len(stripe.state.requests), AuditEntry.objects.count()

    # when finance posts a retry of it anyway
    response = client.post(
        f"/operator/settlement/payouts/{statement.pk}/retry/",
        {"idempotency_key": uuid.uuid4().hex},
    )

    # then the page says why, and nothing happened: no Stripe call, no audit, no job
    assert response.status_code == 400
    assert "Only a payout Stripe refused can be retried" in response.content.decode()
    assert len(stripe.state.requests) == requests
    assert AuditEntry.objects.count() == audits
    assert not PayoutJob.objects.filter(statement=statement).exists()
    # and the service refuses it with its typed error
    with pytest.raises(PayoutNotFailed) as refusal:
        payout_services.payout_retry(
            statement_id=statement.pk, actor=None, idempotency=IdempotencyKey("test", "k")
        )
    assert refusal.value.code == "payout_not_failed"


def test_paying_out_a_period_runs_as_a_job_counting_paid_and_refused(
    stripe: FakeStripeServer, django_capture_on_commit_callbacks: Any
) -> None:
    # given a closed period with three unpaid statements, one transfer refused by Stripe
    period = period_to_pay()
    refuse_transfers_to(stripe, period.refused)
    client = _finance(period.payer)
    url = f"/operator/settlement/payouts/periods/{period.period.number}/"
    assert "Statements not paid yet: 3." in client.get(url).content.decode()

    # when finance presses "Pay out" twice (the same form)
    key = uuid.uuid4().hex
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"idempotency_key": key})
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(url, {"idempotency_key": key})

    # then one job ran, and its page shows what it came to
    assert first.status_code == 302
    assert first["Location"] == second["Location"]
    (job,) = PayoutJob.objects.filter(kind=PayoutJobKind.PERIOD, period=period.period)
    assert (job.status, job.total, job.done, job.paid, job.refused) == (
        PayoutJobStatus.DONE, 3, 3, 2, 1,
    )  # fmt: skip
    html = client.get(first["Location"]).content.decode()
    assert "3 of 3 statements tried" in html
    assert "hx-trigger" not in html
    # and Stripe made one invoice and one transfer, once
    assert len(stripe.state.created("invoices")) == 1
    assert [t["amount"] for t in stripe.state.created("transfers")] == [90]
    assert period.statement(period.refused).payment_status == PaymentStatus.PAYOUT_ERROR
    assert AuditEntry.objects.filter(action="settlement.payout_period").count() == 1


def test_a_running_payout_job_is_polled_until_it_has_finished(
    stripe: FakeStripeServer, django_capture_on_commit_callbacks: Any
) -> None:
    # given a period's payout queued (its job not run yet)
    period = period_to_pay()
    client = _finance(period.payer)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(
            f"/operator/settlement/payouts/periods/{period.period.number}/",
            {"idempotency_key": uuid.uuid4().hex},
        )
    job = PayoutJob.objects.get(period=period.period)
    url = f"/operator/settlement/payouts/runs/{job.pk}/"

    # then its fragment asks htmx to look again
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in fragment
    assert "0 of 3 statements tried" in fragment
    assert "<html" not in fragment

    # when the job runs, the next look shows it finished and stops polling
    for callback in queued:
        callback()
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in fragment
    assert "3 of 3 statements tried" in fragment


def test_paying_a_period_that_is_not_closed_is_not_found(stripe: FakeStripeServer) -> None:
    client = _finance(onboard_partner("open", "EUR"))
    # the open period has no statements to pay: its page does not exist
    assert client.get("/operator/settlement/payouts/periods/999999/").status_code == 404


def test_the_reconciliation_lists_a_payout_missing_at_stripe(
    refused: PeriodToPay, stripe: FakeStripeServer, django_capture_on_commit_callbacks: Any
) -> None:
    # given a transfer Stripe no longer knows
    statement = refused.statement(refused.paid)
    stripe.state.objects["transfers"].pop(statement.stripe_object_id)
    client = _finance(refused.payer)

    # when finance reconciles (a job)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/operator/settlement/reconciliation/", {"idempotency_key": uuid.uuid4().hex}
        )

    # then the page lists the difference, and the CSV has it
    assert response.status_code == 302
    html = client.get("/operator/settlement/reconciliation/").content.decode()
    assert statement.stripe_object_id in html
    assert "missing at Stripe" in html
    csv = client.get("/operator/settlement/reconciliation/", {"format": "csv"})
    body = b"".join(csv.streaming_content).decode()
    assert f"{statement.pk},{statement.stripe_object_id},missing at Stripe" in body
    assert AuditEntry.objects.filter(action="settlement.reconcile").count() == 1


def test_a_reconciliation_without_differences_says_all_match(
    stripe: FakeStripeServer, partner_a: Any
) -> None:
    # given a finished reconciliation that found nothing
    PayoutJob.objects.create(
        kind=PayoutJobKind.RECONCILE, status=PayoutJobStatus.DONE, result={"differences": []},
        idempotency_scope="test", idempotency_key=uuid.uuid4().hex, request_hash="-",
    )  # fmt: skip
    html = _finance(partner_a).get("/operator/settlement/reconciliation/").content.decode()
    assert "All match" in html


def test_reconciling_without_stripe_says_so_and_queues_nothing(partner_a: Any) -> None:
    client = _finance(partner_a)
    jobs = PayoutJob.objects.count()
    response = client.post(
        "/operator/settlement/reconciliation/", {"idempotency_key": uuid.uuid4().hex}
    )
    assert response.status_code == 400
    assert "Stripe is not set up here" in response.content.decode()
    assert PayoutJob.objects.count() == jobs


def test_the_charity_page_lists_a_periods_charity_statements_and_payouts(
    stripe: FakeStripeServer,
) -> None:
    # given a charity that received 401 points at 0.5 a point, paid by transfer
    partner = onboard_partner("donor", "EUR")
    known_terms(partner, issuance_price="1.0", reimbursement_rate="1.0")
    slug = f"shelter-{uuid.uuid4().hex[:8]}"
    charity = charity_create(slug=slug, name="Night shelter", currency="EUR",
                             point_value=Decimal("0.5"))  # fmt: skip
    Charity.objects.filter(pk=charity.pk).update(stripe_account_id=f"acct_{slug}")
    close_everything_before()
    member = new_member()
    ledger.earn(member_id=member, partner_id=partner.pk, points=1000)
    donation_make(member_id=member, charity_slug=slug, points=401)
    period = close_now()
    gateway.pay_out_period(period.pk)
    client = _finance(partner)

    # when finance opens the period's charity payouts
    html = client.get("/operator/settlement/charities/", {"period": period.number}).content
    text = html.decode()

    # then the charity is there with its points, the amount and the transfer
    (transfer,) = stripe.state.created("transfers")
    assert "Night shelter" in text
    assert "401" in text
    assert transfer["id"] in text
    assert "Transfer sent" in text
    body = b"".join(
        client.get(
            "/operator/settlement/charities/", {"period": period.number, "format": "csv"}
        ).streaming_content
    ).decode()
    assert f"{period.number},Night shelter,401,EUR,201,transfer_sent,{transfer['id']}" in body


def test_retrying_without_stripe_says_so_and_records_nothing(
    partner_a: Any, partner_b: Any
) -> None:
    # given a refused payout, and Stripe not configured here
    from tests.testkit.payouts import refused_payout_between

    period = refused_payout_between(partner_a, partner_b)
    statement = period.statement(period.refused)
    client = _finance(partner_a)
    audits = AuditEntry.objects.count()
    # when finance retries it
    response = client.post(
        f"/operator/settlement/payouts/{statement.pk}/retry/",
        {"idempotency_key": uuid.uuid4().hex},
    )
    # then the page says why, and no job or audit entry is recorded
    assert response.status_code == 400
    assert "Stripe is not set up here" in response.content.decode()
    assert not PayoutJob.objects.filter(statement=statement).exists()
    assert AuditEntry.objects.count() == audits
