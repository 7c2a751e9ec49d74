"""Stripe webhooks: verify, store once, process once, in order-independent steps.

The endpoint verifies the signature (a bad one is a 400 and nothing is stored),
refuses a signed body that is not an event (not a JSON object with an ``id`` and a
``type``: a typed 400, never a server error),
stores the event under its unique id (a duplicate is acknowledged and ignored)
and hands it to Celery after commit. Processing moves a statement's payment
status only forward, so events arriving out of order never undo progress.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from coalition.settlement.models import PaymentStatus, Statement, StripeEvent, StripeEventStatus
from loyalty_kernel import jobs

logger = logging.getLogger(__name__)

# Payment statuses in the order they can be reached; never move backwards.
PROGRESS = {
    PaymentStatus.NOTHING_DUE: 0,
    PaymentStatus.PENDING: 0,
    PaymentStatus.INVOICED: 1,
    PaymentStatus.TRANSFER_SENT: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.PAID: 3,
    PaymentStatus.REVERSED: 4,
}
EVENT_STATUS = {
    "invoice.finalized": PaymentStatus.INVOICED,
    "invoice.sent": PaymentStatus.INVOICED,
    "invoice.paid": PaymentStatus.PAID,
    "invoice.payment_succeeded": PaymentStatus.PAID,
    "invoice.payment_failed": PaymentStatus.FAILED,
    "transfer.created": PaymentStatus.PAID,
    "transfer.reversed": PaymentStatus.REVERSED,
}


def _refused(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": message, "code": code}, status=status)


def _event_of(body: bytes) -> dict[str, Any] | None:
    """The event a verified body carries: a JSON object with a string ``id`` and
    ``type``; None for anything else (a signature proves who sent it, not that
    it is an event)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    for name in ("id", "type"):
        value = payload.get(name)
        if not isinstance(value, str) or not value or len(value) > 80 or "\x00" in value:
            return None  # not storable in StripeEvent (80 characters each)
    return payload


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return _refused(503, "not_configured", "webhooks are not configured")
    try:
        body = request.body
    except RequestDataTooBig:
        return _refused(413, "invalid_input", "request body too large")
    try:
        stripe.WebhookSignature.verify_header(
            body, request.headers.get("Stripe-Signature"), secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except (ValueError, stripe.SignatureVerificationError):
        return _refused(400, "invalid_signature", "invalid payload or signature")
    payload = _event_of(body)
    if payload is None:
        return _refused(400, "invalid_input", "the body is not a Stripe event")
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                event_id=payload["id"], type=payload["type"], payload=payload
            )
            jobs.after_commit(_enqueue, stored.event_id)
    except IntegrityError:
        return JsonResponse({"received": True, "duplicate": True})
    except DataError:  # e.g. a NUL character, which jsonb cannot hold
        return _refused(400, "invalid_input", "the event cannot be stored")
    return JsonResponse({"received": True})


def _enqueue(event_id: str) -> None:
    from coalition.settlement.tasks import process_stripe_event

    process_stripe_event.delay(event_id)


def process_event(event_id: str) -> str:
    """Apply one stored event, once; returns the event's final status."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(event_id=event_id)
        if event.status in {StripeEventStatus.SUCCEEDED, StripeEventStatus.IGNORED}:
            return str(event.status)
        target = EVENT_STATUS.get(event.type)
        obj = event.payload.get("data", {}).get("object", {})
        statement_id = (obj.get("metadata") or {}).get("statement")
        statement = None
        if statement_id and str(statement_id).isdigit():
            statement = Statement.objects.select_for_update().filter(pk=int(statement_id)).first()
        if statement is None and obj.get("id"):
            statement = (
                Statement.objects.select_for_update().filter(stripe_object_id=obj["id"]).first()
            )
        if target is None or statement is None:
            event.status = StripeEventStatus.IGNORED
            event.error = "no statement for this event" if target else "event type not used"
        else:
            if PROGRESS[PaymentStatus(target)] > PROGRESS[PaymentStatus(statement.payment_status)]:
                statement.payment_status = target
                if target == PaymentStatus.PAID:
                    statement.paid_at = timezone.now()
                if not statement.stripe_object_id and obj.get("id"):
                    statement.stripe_object_id = obj["id"]
                statement.save(update_fields=["payment_status", "paid_at", "stripe_object_id"])
            event.status = StripeEventStatus.SUCCEEDED
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
        return str(event.status)
