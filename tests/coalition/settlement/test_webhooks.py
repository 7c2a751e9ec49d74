"""Stripe webhooks: verified, stored once, processed once, in any order.

Events are posted to the real endpoint (``/stripe/webhook`` on the public host)
signed like Stripe signs them, with the secret the settings name."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.test import Client, override_settings

from coalition.settlement.models import PaymentStatus, Statement, StripeEvent, StripeEventStatus
from coalition.settlement.stripe import events
from loyalty_platform.devtools.stripe_fake import FakeStripeServer, signature_header
from tests.testkit.settlement import WEBHOOK_SECRET, paid_period

Capture = Callable[..., Any]  # pytest-django's django_capture_on_commit_callbacks


def _event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
    }


def _post(
    event: dict[str, Any] | str,
    *,
    secret: str = WEBHOOK_SECRET,
    signature: str | None = "sign",
    timestamp: int | None = None,
) -> HttpResponse:
    payload = event if isinstance(event, str) else json.dumps(event)
    headers = {}
    if signature == "sign":
        headers["HTTP_STRIPE_SIGNATURE"] = signature_header(payload, secret, timestamp)
    elif signature is not None:
        headers["HTTP_STRIPE_SIGNATURE"] = signature
    response: HttpResponse = Client(HTTP_HOST="localhost").post(
        "/stripe/webhook", payload, content_type="application/json", **headers
    )
    return response


def _deliver(event: dict[str, Any], capture: Capture) -> str:
    """Post an event and let its processing task run, as after a real commit."""
    with capture(execute=True):
        assert _post(event).status_code == 200
    return str(StripeEvent.objects.get(event_id=event["id"]).status)


def _status(statement: Statement) -> str:
    statement.refresh_from_db()
    return str(statement.payment_status)


def test_the_endpoint_enqueues_processing_on_commit(
    db: None,
    fake_stripe: FakeStripeServer,
    eager_celery: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # given a transfer sent for a statement, and Stripe's own transfer.created event
    _, _, transferred = paid_period()
    (event,) = [e for e in fake_stripe.state.events if e["type"] == "transfer.created"]

    # when Stripe delivers it
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(event)

    # then it is acknowledged and stored, and its processing waits for the commit
    assert response.status_code == 200
    assert response.json() == {"received": True}
    stored = StripeEvent.objects.get(event_id=event["id"])
    assert (stored.type, stored.status, stored.payload) == ("transfer.created", "received", event)
    assert _status(transferred) == PaymentStatus.TRANSFER_SENT
    assert len(callbacks) == 1
    # when the transaction commits, the Celery task runs (eagerly here) and applies it
    callbacks[0]()
    stored.refresh_from_db()
    assert stored.status == StripeEventStatus.SUCCEEDED
    assert stored.processed_at is not None
    assert _status(transferred) == PaymentStatus.PAID
    assert transferred.paid_at is not None


def test_a_duplicate_event_is_stored_once_and_processed_once(
    db: None,
    fake_stripe: FakeStripeServer,
    eager_celery: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # given a transfer sent for a statement
    _, _, transferred = paid_period()
    (transfer,) = fake_stripe.state.created("transfers")
    event = _event("transfer.created", transfer)

    # when Stripe delivers the same event twice (it retries until it sees a 2xx)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first, second = _post(event), _post(event)

    # then both are acknowledged, the second as a duplicate, and it is stored once
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"received": True, "duplicate": True}
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    # and processed once: one task enqueued, and processing again changes nothing
    assert len(callbacks) == 1
    stored = StripeEvent.objects.get(event_id=event["id"])
    assert stored.status == StripeEventStatus.SUCCEEDED
    assert _status(transferred) == PaymentStatus.PAID
    processed_at, paid_at = stored.processed_at, transferred.paid_at
    assert events.process_event(event["id"]) == StripeEventStatus.SUCCEEDED
    stored.refresh_from_db()
    transferred.refresh_from_db()
    assert (stored.processed_at, transferred.paid_at) == (processed_at, paid_at)


def test_invoice_events_out_of_order_end_paid(
    db: None,
    fake_stripe: FakeStripeServer,
    eager_celery: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # given an invoice sent to a net payer
    _, invoiced, _ = paid_period()
    (invoice,) = fake_stripe.state.created("invoices")
    paid = _event("invoice.paid", {**invoice, "status": "paid"})
    # (this copy carries no metadata: the statement is found by the invoice id)
    failed = _event("invoice.payment_failed", {**invoice, "metadata": {}})
    finalized = _event("invoice.finalized", {**invoice, "status": "open"})

    # when invoice.paid arrives first, then a late payment failure and finalisation
    assert _deliver(paid, django_capture_on_commit_callbacks) == StripeEventStatus.SUCCEEDED
    assert _status(invoiced) == PaymentStatus.PAID
    for late in (failed, finalized):
        assert _deliver(late, django_capture_on_commit_callbacks) == StripeEventStatus.SUCCEEDED

    # then the statement stays paid: statuses only move forward
    assert _status(invoiced) == PaymentStatus.PAID
    assert invoiced.paid_at is not None
    assert invoiced.stripe_object_id == invoice["id"]


def test_a_failed_invoice_payment_then_paid_ends_paid(
    db: None,
    fake_stripe: FakeStripeServer,
    eager_celery: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    _, invoiced, _ = paid_period()
    (invoice,) = fake_stripe.state.created("invoices")
    _deliver(_event("invoice.payment_failed", invoice), django_capture_on_commit_callbacks)
    assert _status(invoiced) == PaymentStatus.FAILED
    _deliver(_event("invoice.paid", invoice), django_capture_on_commit_callbacks)
    assert _status(invoiced) == PaymentStatus.PAID


def test_a_transfer_reversed_before_its_creation_event_ends_reversed(
    db: None,
    fake_stripe: FakeStripeServer,
    eager_celery: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # given a transfer sent for a statement
    _, _, transferred = paid_period()
    (transfer,) = fake_stripe.state.created("transfers")

    # when transfer.reversed arrives before transfer.created
    reversed_event = _event("transfer.reversed", {**transfer, "reversed": True})
    _deliver(reversed_event, django_capture_on_commit_callbacks)
    assert _status(transferred) == PaymentStatus.REVERSED
    created = _event("transfer.created", transfer)
    assert _deliver(created, django_capture_on_commit_callbacks) == StripeEventStatus.SUCCEEDED

    # then the statement stays reversed (never paid)
    assert _status(transferred) == PaymentStatus.REVERSED
    assert transferred.paid_at is None


def test_bad_or_missing_signatures_are_rejected_and_stored_nowhere(
    db: None, fake_stripe: FakeStripeServer, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a well-formed event
    event = _event("invoice.paid", {"id": "in_x", "object": "invoice", "metadata": {}})
    payload = json.dumps(event)
    tampered = payload.replace("in_x", "in_y")

    # when it arrives with a bad signature, another secret's signature, a signature
    # of other content, an old signature (replay) or no signature at all
    with django_capture_on_commit_callbacks() as callbacks:
        responses = [
            _post(event, signature="t=1,v1=deadbeef"),
            _post(event, secret="whsec_someone_else"),
            _post(tampered, signature=signature_header(payload, WEBHOOK_SECRET)),
            _post(event, timestamp=int(time.time()) - 3600),
            _post(event, signature=None),
            _post(event, signature=""),
        ]

    # then every one is a 400, and nothing is stored or enqueued
    assert [r.status_code for r in responses] == [400] * 6
    assert not StripeEvent.objects.filter(event_id=event["id"]).exists()
    assert not StripeEvent.objects.filter(payload__data__object__id="in_y").exists()
    assert callbacks == []
    # and without a configured secret, the endpoint refuses to accept anything
    with override_settings(STRIPE_WEBHOOK_SECRET=""):
        assert _post(event).status_code == 503
    assert not StripeEvent.objects.filter(event_id=event["id"]).exists()


def test_an_event_for_an_unknown_statement_is_ignored(
    db: None,
    fake_stripe: FakeStripeServer,
    eager_celery: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # given statements paid through Stripe
    _, invoiced, transferred = paid_period()
    missing = (Statement.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000

    # when events arrive for a statement we do not have, or no statement at all
    unknown = _event("invoice.paid", {"id": "in_unknown", "metadata": {"statement": str(missing)}})
    anonymous = _event("transfer.reversed", {"id": "tr_unknown", "metadata": {}})
    for event in (unknown, anonymous):
        assert _deliver(event, django_capture_on_commit_callbacks) == StripeEventStatus.IGNORED

    # then they are stored, marked ignored with the reason, and change nothing
    stored = StripeEvent.objects.get(event_id=unknown["id"])
    assert (stored.error, stored.processed_at is not None) == ("no statement for this event", True)
    assert _status(invoiced) == PaymentStatus.INVOICED
    assert _status(transferred) == PaymentStatus.TRANSFER_SENT


def test_event_types_not_used_are_ignored(
    db: None,
    fake_stripe: FakeStripeServer,
    eager_celery: None,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # given statements paid through Stripe, and the other events the fake sent
    _, invoiced, transferred = paid_period()
    (invoice,) = fake_stripe.state.created("invoices")
    others = [e for e in fake_stripe.state.events if e["type"] in {"customer.created"}]
    others.append(_event("invoice.voided_by_martians", invoice))
    others.append(_event("charge.refunded", {"id": "ch_1", "metadata": {}}))
    assert len(others) == 3

    # when they arrive
    statuses = [_deliver(event, django_capture_on_commit_callbacks) for event in others]

    # then each is stored and ignored, and no statement moves
    assert statuses == [StripeEventStatus.IGNORED] * 3
    assert {
        e.error for e in StripeEvent.objects.filter(event_id__in=[x["id"] for x in others])
    } == {"event type not used"}
    assert _status(invoiced) == PaymentStatus.INVOICED
    assert _status(transferred) == PaymentStatus.TRANSFER_SENT
