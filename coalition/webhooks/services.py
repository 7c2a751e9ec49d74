"""Outbound webhooks: partner apps hear about points earned and redeemed, tier
changes and closed settlement statements. This module owns registering endpoints,
emitting events, signing, delivering and recovering lost deliveries; the Celery
jobs in ``coalition.webhooks.tasks`` only call it, and the API layer may use it
but is never imported by it.

Emitting. Services call ``emit`` inside their own transaction. It is on the hot
purchase path, so it is one raw ``INSERT ... SELECT`` (prepared, on the driver
connection: ``loyalty_kernel.driver_sql``) that writes a delivery row for every
subscribed endpoint and returns their ids: with nobody subscribed that one
statement is all it costs. A rolled-back event leaves no row and sends
nothing; the ``webhooks.deliver`` task is enqueued when the transaction commits.
Delivery is at least once: receivers deduplicate on the ``X-Loyalty-Delivery``
header (the delivery id, also the body's ``id``).

Signing. Each attempt POSTs the JSON body signed like Stripe's webhooks::

    X-Loyalty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

The timestamp is signed too, so a receiver can refuse replays of old bodies
(``verify_signature`` allows five minutes).

Delivering. An attempt first claims its row (``pending`` to ``sending``, one
conditional UPDATE that also counts the attempt), so two workers handed the same
delivery never both send it, and a stale duplicate task is a no-op. A non-2xx
answer, a redirect, a timeout or a connection error is retried with exponential
backoff (2, 4, 8, 16, 32 s) up to ``MAX_ATTEMPTS``; every attempt is recorded on
the row, which ends ``succeeded`` or ``failed``. While unfinished, a row's
``next_attempt_at`` says when the next attempt is due (``pending``) or when the
running attempt's lease ends (``sending``).

Recovering. ``deliveries_sweep`` (the ``webhooks.sweep`` beat job) re-enqueues
deliveries that nobody is going to attempt: pending ones overdue by more than a
margin (their task was lost with a worker or a broker), and sending ones whose
lease ran out (the worker died mid-attempt; that attempt counts). With a broker
Celery waits out the backoff itself and the sweep is only the safety net. Without
one (the embedded demo, tasks run in-process) a failed attempt is not retried
inline, which would hammer the receiver with no wait at all: it stays pending
until the sweep, run by the in-process beat, finds it due.

The module is longer than 500 lines because registering, emitting, delivering and
sweeping all read and move the same delivery states and leases: one place says
which state may follow which.
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
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from coalition.audit.services import audit_record
from coalition.ledger.errors import IdempotencyKeyReused
from coalition.webhooks.errors import (
    InvalidWebhookEndpoint,
    UnknownWebhookDelivery,
    WebhookEndpointDisabled,
)
from coalition.webhooks.models import (
    WEBHOOK_EVENTS,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from loyalty_kernel import driver_sql, jobs
from loyalty_kernel.idempotency import IdempotencyKey, request_hash

logger = logging.getLogger(__name__)

EVENTS = WEBHOOK_EVENTS
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 5
SIGNATURE_TOLERANCE_SECONDS = 300
USER_AGENT = "loyalty-webhooks/1"
# How long a claimed attempt holds its delivery (well above TIMEOUT_SECONDS, so only
# a worker that died or hung mid-attempt outlives it), and how long a delivery the
# sweep re-enqueued waits for its task before a later sweep may take it again.
LEASE = timedelta(seconds=60)
# With a broker, Celery waits out each backoff itself: the sweep takes only what is
# overdue by this much more, so a retry that is merely late in a busy queue is not
# enqueued a second time.
SWEEP_MARGIN = timedelta(minutes=5)
SWEEP_BATCH = 500


# --- endpoints ------------------------------------------------------------------------


def webhook_endpoint_create(
    *,
    partner: Any,
    url: str,
    events: list[str] | tuple[str, ...],
    idempotency: IdempotencyKey | None = None,
    actor: Any = None,
) -> tuple[WebhookEndpoint, str]:
    """Register a partner's endpoint; returns the row and its signing secret,
    which the partner is shown when it registers (it stays stored: signing needs it).

    With an idempotency key, a retry of the same registration returns the endpoint
    it registered, as it is now, and its secret; the key with another URL or other
    events is ``IdempotencyKeyReused``. The key is unique in the database, so two
    twins racing register one endpoint and both answer it. With an ``actor`` (a
    person, in the console) the registration is written to the audit log."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidWebhookEndpoint("a webhook URL is http:// or https:// with a host")
    unknown = set(events) - set(EVENTS)
    if unknown or not events:
        raise InvalidWebhookEndpoint(f"events must be some of {', '.join(EVENTS)}", field="events")
    subscribed = sorted(set(events))
    digest = request_hash(
        "webhook_endpoint_create", {"partner": partner.pk, "url": url, "events": subscribed}
    )
    if idempotency is not None and (existing := _registered_with(idempotency, digest)):
        return existing, existing.secret
    secret = "whsec_" + secrets.token_urlsafe(32)
    try:
        # A savepoint: losing the race on the key must not break the caller's transaction.
        with transaction.atomic():
            endpoint = WebhookEndpoint.objects.create(
                partner=partner,
                url=url,
                secret=secret,
                events=subscribed,
                idempotency_scope=idempotency.scope if idempotency else None,
                idempotency_key=idempotency.key if idempotency else None,
                request_hash=digest,
            )
            if actor is not None:
                _audit(actor, "webhook.create", endpoint, None)
    except IntegrityError:
        # A twin with the same key committed first: answer what it registered.
        if idempotency is not None and (existing := _registered_with(idempotency, digest)):
            return existing, existing.secret
        raise
    return endpoint, secret


def _registered_with(idempotency: IdempotencyKey, digest: str) -> WebhookEndpoint | None:
    """The endpoint registered with this key, if any; the key with another request
    is refused."""
    endpoint = WebhookEndpoint.objects.filter(
        idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
    ).first()
    if endpoint is not None and endpoint.request_hash != digest:
        raise IdempotencyKeyReused(
            f"idempotency key {idempotency.key!r} was used to register another endpoint"
        )
    return endpoint


def webhook_endpoint_state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint (never its secret)."""
    return {"url": endpoint.url, "events": list(endpoint.events), "is_active": endpoint.is_active}


def _audit(
    actor: Any, action: str, endpoint: WebhookEndpoint, before: dict[str, Any] | None
) -> None:
    audit_record(
        actor=actor,
        partner_id=endpoint.partner_id,
        action=action,
        target=("webhook_endpoint", endpoint.pk),
        before=before,
        after=webhook_endpoint_state(endpoint),
    )


def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint, actor: Any = None) -> WebhookEndpoint:
    """Stop sending to an endpoint (its log stays). Deactivating it again changes
    nothing (a second press of the button)."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if locked.is_active:
            before = webhook_endpoint_state(locked)
            locked.is_active = False
            locked.save(update_fields=["is_active"])
            if actor is not None:
                _audit(actor, "webhook.disable", locked, before)
    endpoint.is_active = locked.is_active
    return endpoint


# --- redelivering -----------------------------------------------------------------------


def delivery_seen_state(delivery: WebhookDelivery) -> str:
    """A token of a delivery as a page showed it: a redelivery asked from that page
    happens only while the delivery is still as shown (a double click, or someone
    else redelivering first, then changes nothing)."""
    delivered = delivery.delivered_at.isoformat() if delivery.delivered_at else "-"
    return f"{delivery.status}:{delivery.attempts}:{delivered}"


def webhook_delivery_redeliver(
    *,
    partner_id: int,
    delivery_id: int,
    endpoint_id: int | None = None,
    seen_state: str | None = None,
    actor: Any = None,
) -> tuple[WebhookDelivery, bool]:
    """Send one finished delivery (succeeded or failed) again: it becomes pending,
    with a fresh count of attempts, and is queued once the transaction commits.
    The receiver gets the same delivery id, so it can tell a redelivery from a new
    event. Returns the delivery and whether it was queued: one still pending or
    being sent is left alone (it is queued already), and so is one that changed
    since ``seen_state`` was read. Another partner's delivery (or, given
    ``endpoint_id``, another endpoint's) is not found. Audited when an ``actor`` asks."""
    with transaction.atomic():
        found = WebhookDelivery.objects.filter(pk=delivery_id, endpoint__partner_id=partner_id)
        if endpoint_id is not None:
            found = found.filter(endpoint_id=endpoint_id)
        delivery = found.select_for_update().select_related("endpoint").first()
        if delivery is None:
            raise UnknownWebhookDelivery(f"no webhook delivery {delivery_id} for this partner")
        finished = delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)
        if not finished or (seen_state is not None and seen_state != delivery_seen_state(delivery)):
            return delivery, False
        if not delivery.endpoint.is_active:
            raise WebhookEndpointDisabled(
                "This endpoint is disabled: deliveries to it cannot be sent again"
            )
        before = {"status": delivery.status, "attempts": delivery.attempts}
        delivery.status = DeliveryStatus.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = timezone.now()
        delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
        if actor is not None:
            audit_record(
                actor=actor,
                partner_id=partner_id,
                action="webhook.redeliver",
                target=("webhook_delivery", delivery.pk),
                before=before,
                after={"status": delivery.status, "attempts": 0, "endpoint": delivery.endpoint.url},
            )
        jobs.after_commit(_enqueue, [(delivery.pk, 0)])
    return delivery, True


# --- emitting ---------------------------------------------------------------------------


Payload = dict[str, Any]

# Named with their schema: emit's statements run on the driver connection, which
# skips django-tenants' search_path (the tables are shared, in public).
_DELIVERIES = "public." + connection.ops.quote_name(WebhookDelivery._meta.db_table)
_ENDPOINTS = "public." + connection.ops.quote_name(WebhookEndpoint._meta.db_table)


def _emit_statements(event: str, *, of_partner: bool) -> tuple[str, str]:
    """The INSERT ... SELECT that logs the event for its subscribers, and the look-up
    of whether there are any. Raw SQL, not a queryset: building one costs more
    Python time than the query itself. The event name is one of EVENTS (plain
    identifiers) and is written into the text, as are the clock and the status;
    what is left to bind is the payload and the partner. Run as prepared
    statements: planning the INSERT ... SELECT costs more than running it."""
    if event not in EVENTS:  # written into the SQL text below: only known event names
        raise InvalidWebhookEndpoint(f"no event {event!r}", field="events")
    subscribers = f"FROM {_ENDPOINTS} WHERE is_active AND events @> '[\"{event}\"]'::jsonb"
    if of_partner:
        subscribers += " AND partner_id = %s"
    insert = (
        f"INSERT INTO {_DELIVERIES} (endpoint_id, event_type, payload, status, attempts,"
        " last_error, created_at, next_attempt_at)"
        f" SELECT id, '{event}', %s::jsonb, '{DeliveryStatus.PENDING}', 0, '',"
        f" statement_timestamp(), statement_timestamp() {subscribers} ORDER BY id RETURNING id"
    )
    return insert, f"SELECT 1 {subscribers} LIMIT 1"


# Built once per event: emit is on the hot purchase path.
_EMIT_STATEMENTS = {
    (event, of_partner): _emit_statements(event, of_partner=of_partner)
    for event in EVENTS
    for of_partner in (False, True)
}


def subscribed_sql(event_type: str, partner_parameter: str) -> str:
    """A boolean SQL expression: has the partner bound as ``%(partner_parameter)s``
    an active endpoint for the event? For a hot path that reads it along with its
    own data and calls ``emit`` only when someone listens (a statement saved)."""
    if event_type not in EVENTS or not partner_parameter.isidentifier():
        raise ValueError(f"unknown webhook event {event_type!r}")
    # the event is one of EVENTS, the parameter an identifier: nothing to inject
    subscribers = f"{_ENDPOINTS} WHERE is_active AND events @> '[\"{event_type}\"]'::jsonb"
    return f"EXISTS (SELECT 1 FROM {subscribers} AND partner_id = %({partner_parameter})s)"  # noqa: S608


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
    Returns the delivery ids.

    One SQL statement writes all the rows, or none when nobody is subscribed.
    ``payload`` may be a function, called only when someone is subscribed (it may
    cost a query); that costs one cheap look-up before the insert."""
    try:
        insert, anyone = _EMIT_STATEMENTS[event_type, partner_id is not None]
    except KeyError:
        raise ValueError(f"unknown webhook event {event_type!r}") from None
    if callable(payload):
        if not driver_sql.prepared_all(anyone, () if partner_id is None else (partner_id,)):
            return []
        payload = payload()
    body = json.dumps(payload, cls=DjangoJSONEncoder)
    rows = driver_sql.prepared_all(insert, (body,) if partner_id is None else (body, partner_id))
    delivery_ids = [row[0] for row in rows]
    if delivery_ids:
        # robust: the event's own work has committed; a broker that is down must not
        # turn it into an error. The deliveries stay pending, and the sweep finds them.
        jobs.after_commit(_enqueue, [(pk, 0) for pk in delivery_ids])
    return delivery_ids


def _enqueue(deliveries: list[tuple[int, int]]) -> None:
    from coalition.webhooks.tasks import deliver_webhook  # the tasks module imports this one

    for delivery_id, attempts in deliveries:
        deliver_webhook.delay(delivery_id, attempts)


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
    attempts: int = 0  # attempts made so far; the token of the retry's claim


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


def deliver(delivery_id: int, *, attempts: int | None = None) -> AttemptResult:
    """Make one attempt at a pending delivery and record it.

    The attempt claims the row first (pending to sending, counting the attempt),
    so no two workers send one delivery at once. ``attempts`` is how many attempts
    the enqueuer saw: a task made stale by a later one (say the sweep's copy of a
    retry that was only late) then claims nothing. A delivery that has ended,
    vanished or is being sent is left alone, so a repeated task is harmless."""
    claimed_at = timezone.now()
    claim = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
    if attempts is not None:
        claim = claim.filter(attempts=attempts)
    claimed = claim.update(
        status=DeliveryStatus.SENDING,
        attempts=F("attempts") + 1,
        next_attempt_at=claimed_at + LEASE,
    )
    if not claimed:
        found = WebhookDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True)
        return AttemptResult(found.first() or "missing")
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if endpoint.is_active:
        status_code, error = _post(endpoint, delivery)
    else:
        status_code, error = None, "the endpoint was deactivated"
    now = timezone.now()
    made = delivery.attempts
    next_attempt_at = None
    delivered_at = None
    retry_in = None
    if not error:
        status = DeliveryStatus.SUCCEEDED
        delivered_at = now
    elif made >= MAX_ATTEMPTS or not endpoint.is_active:
        status = DeliveryStatus.FAILED
        logger.warning(
            "webhook delivery %s to %s failed after %s attempts: %s",
            delivery.pk, endpoint.url, made, error,
        )  # fmt: skip
    else:
        status = DeliveryStatus.PENDING
        retry_in = backoff(made)
        next_attempt_at = now + timedelta(seconds=retry_in)
    # Still ours unless the lease ran out and another attempt claimed it since (a
    # sweep that only made it pending again is overruled: this outcome is news).
    recorded = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status__in=[DeliveryStatus.SENDING, DeliveryStatus.PENDING],
        attempts=made,
    ).update(
        status=status,
        last_status_code=status_code,
        last_error=error[:2000],
        next_attempt_at=next_attempt_at,
        delivered_at=delivered_at,
    )
    if not recorded:
        logger.warning("webhook delivery %s: attempt %s outlived its lease", delivery_id, made)
        return AttemptResult(DeliveryStatus.SENDING, None, made)
    return AttemptResult(status, retry_in, made)


# --- recovering -------------------------------------------------------------------------

# The statuses are written into the text, not bound, so that the planner can match
# the partial index on unfinished deliveries whatever the parameter binding.
_SWEEP = f"""
UPDATE {_DELIVERIES} AS delivery SET
    status = CASE
        WHEN delivery.status = 'sending' AND delivery.attempts >= %(max_attempts)s
        THEN 'failed' ELSE 'pending' END,
    next_attempt_at = CASE
        WHEN delivery.status = 'sending' AND delivery.attempts >= %(max_attempts)s
        THEN NULL ELSE %(retake_at)s END,
    last_error = CASE
        WHEN delivery.status = 'sending' THEN %(interrupted)s ELSE delivery.last_error END
FROM (
    SELECT id FROM {_DELIVERIES}
    WHERE status IN ('pending', 'sending') AND next_attempt_at < %(cutoff)s
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
) AS due
WHERE delivery.id = due.id
RETURNING delivery.id, delivery.status, delivery.attempts
"""  # noqa: S608 - the table name is the model's; every value is a parameter


def deliveries_sweep(
    *, margin: timedelta = SWEEP_MARGIN, now: datetime | None = None, limit: int = SWEEP_BATCH
) -> list[int]:
    """Re-enqueue the deliveries nobody is going to attempt: pending ones whose
    next attempt is overdue by more than ``margin``, and sending ones whose lease
    ended that long ago (their worker died; the attempt counts, and one that was
    the last ends ``failed``). Returns the ids re-enqueued.

    One statement takes them and gives each re-enqueued task a lease to claim its
    delivery in (``next_attempt_at`` moves to then), so a second sweep finds nothing
    to take, and SKIP LOCKED keeps concurrent sweeps off each other's rows. Should a
    task already in the queue turn up as well, the attempt's claim lets only one of
    the two send."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SWEEP, {
            "cutoff": now - margin, "retake_at": now + LEASE, "limit": limit,
            "max_attempts": MAX_ATTEMPTS,
            "interrupted": "the attempt was interrupted (its worker was lost)",
        })  # fmt: skip
        rows = cursor.fetchall()
        due = sorted((pk, attempts) for pk, status, attempts in rows if status == "pending")
        if len(due) < len(rows):
            logger.warning("webhook sweep: %d deliveries failed mid-attempt", len(rows) - len(due))
        if due:
            jobs.after_commit(_enqueue, due)
    return [pk for pk, _ in due]
