"""Outbound webhooks: partner apps hear about points earned and redeemed, tier
changes and closed settlement statements.

Services call ``emit`` inside their own transaction: one delivery row per
subscribed endpoint is written with the event, so a rolled-back purchase sends
nothing, and the ``webhooks.deliver`` task is enqueued when the transaction
commits. Delivery is at least once: receivers deduplicate on the
``X-Loyalty-Delivery`` header (the delivery id, also the body's ``id``).

Each attempt POSTs the JSON body signed like Stripe's webhooks::

    X-Loyalty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

The timestamp is signed too, so a receiver can refuse replays of old bodies
(``verify_signature`` allows five minutes). A non-2xx answer, a redirect, a
timeout or a connection error is retried with exponential backoff (2, 4, 8, 16,
32 s) up to ``MAX_ATTEMPTS``; every attempt is recorded on the delivery row,
which then ends ``succeeded`` or ``failed``. Without a broker (the embedded demo)
Celery runs tasks in-process, right after the commit, and its retries follow at
once without the backoff waits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from loyalty_graphql.models import (
    WEBHOOK_EVENTS,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from loyalty_platform.errors import DomainError

logger = logging.getLogger(__name__)

EVENTS = WEBHOOK_EVENTS
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 5
SIGNATURE_TOLERANCE_SECONDS = 300
USER_AGENT = "loyalty-webhooks/1"


class InvalidWebhookEndpoint(DomainError):
    code = "invalid"
    field = "url"


# --- endpoints ------------------------------------------------------------------------


def webhook_endpoint_create(
    *, partner: Any, url: str, events: list[str] | tuple[str, ...]
) -> tuple[WebhookEndpoint, str]:
    """Register a partner's endpoint; returns the row and its signing secret,
    which the partner is shown once (it stays stored: signing needs it)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidWebhookEndpoint("a webhook URL is http:// or https:// with a host")
    unknown = set(events) - set(EVENTS)
    if unknown or not events:
        raise InvalidWebhookEndpoint(f"events must be some of {', '.join(EVENTS)}", field="events")
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(
        partner=partner, url=url, secret=secret, events=sorted(set(events))
    )
    return endpoint, secret


def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    if endpoint.is_active:
        endpoint.is_active = False
        endpoint.save(update_fields=["is_active"])
    return endpoint


# --- emitting ---------------------------------------------------------------------------


Payload = dict[str, Any]


def partners_subscribed(event_type: str) -> set[int]:
    """Partners with an active endpoint for this event (one query)."""
    return set(
        WebhookEndpoint.objects.filter(is_active=True, events__contains=[event_type])
        .filter(partner__isnull=False)
        .values_list("partner_id", flat=True)
    )


def emit(
    partner_id: int | None, event_type: str, payload: Payload | Callable[[], Payload]
) -> list[int]:
    """Log a delivery of the event for every active endpoint subscribed to it (a
    partner's, or with ``partner_id=None`` every partner's: tiers are
    coalition-wide) and deliver them once the surrounding transaction commits.
    ``payload`` may be a function, called only when someone is subscribed (it
    may cost a query). Returns the delivery ids."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoints = WebhookEndpoint.objects.filter(is_active=True, events__contains=[event_type])
    if partner_id is not None:
        endpoints = endpoints.filter(partner_id=partner_id)
    endpoint_ids = list(endpoints.values_list("pk", flat=True))
    if not endpoint_ids:
        return []
    if callable(payload):
        payload = payload()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint_id=endpoint_id, event_type=event_type, payload=payload)
        for endpoint_id in endpoint_ids
    )
    delivery_ids = [delivery.pk for delivery in deliveries]
    # robust: the event's own work has committed; a broker that is down must not
    # turn it into an error. The deliveries stay pending in the log.
    transaction.on_commit(lambda: _enqueue(delivery_ids), robust=True)
    return delivery_ids


def _enqueue(delivery_ids: list[int]) -> None:
    from loyalty_graphql.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)


def money(amount_minor: int, currency: str) -> dict[str, str]:
    """Money in a payload as in the API: a decimal string in major units."""
    from loyalty_graphql.types import money as api_money  # late: types imports services

    return api_money(amount_minor, currency)


# --- signing ----------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the header's HMAC matches and its time is recent."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def body_of(delivery: WebhookDelivery) -> bytes:
    envelope = {
        "id": delivery.pk,
        "type": delivery.event_type,
        "created_at": delivery.created_at,
        "data": delivery.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, sort_keys=True).encode()


# --- delivering -------------------------------------------------------------------------


def backoff(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return int(2**attempts)


@dataclass(frozen=True)
class AttemptResult:
    status: str
    retry_in: int | None = None  # seconds until the next attempt, when one is due


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a success: never re-send a signed body elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One POST; returns the status code (None without an answer) and an error text
    ("" when it succeeded)."""
    if urlsplit(endpoint.url).scheme not in {"http", "https"}:
        return None, "the endpoint URL is not http(s)"
    body = body_of(delivery)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Loyalty-Event": delivery.event_type,
            "X-Loyalty-Delivery": str(delivery.pk),
            "X-Loyalty-Signature": sign(endpoint.secret, int(time.time()), body),
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(1024)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"
    if 200 <= status < 300:
        return status, ""
    return status, f"HTTP {status}"


def deliver(delivery_id: int) -> AttemptResult:
    """Make one attempt at a pending delivery and record it. A delivery that has
    already ended (or vanished) is left alone, so a repeated task is harmless."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return AttemptResult("missing")
    if delivery.status != DeliveryStatus.PENDING:
        return AttemptResult(delivery.status)
    endpoint = delivery.endpoint
    if endpoint.is_active:
        status_code, error = _post(endpoint, delivery)
    else:
        status_code, error = None, "the endpoint was deactivated"
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error[:2000]
    delivery.next_attempt_at = None
    retry_in = None
    if not error:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
    elif delivery.attempts >= MAX_ATTEMPTS or not endpoint.is_active:
        delivery.status = DeliveryStatus.FAILED
        logger.warning(
            "webhook delivery %s to %s failed after %s attempts: %s",
            delivery.pk, endpoint.url, delivery.attempts, error,
        )  # fmt: skip
    else:
        retry_in = backoff(delivery.attempts)
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
    delivery.save(
        update_fields=[
            "status", "attempts", "last_status_code", "last_error", "next_attempt_at",
            "delivered_at",
        ]
    )  # fmt: skip
    return AttemptResult(delivery.status, retry_in)
