"""Outbound webhooks (public schema): the endpoints partner apps registered and the
delivery log, one row per event per endpoint with what became of it.

The tables kept the names they had when this lived in the API package
(``loyalty_graphql_*``): the move was state-only, so no data was copied and a web
node still running the previous release keeps working during a rolling deploy.
"""

from __future__ import annotations

from typing import ClassVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

WEBHOOK_EVENTS = (
    "points_earned",
    "points_redeemed",
    "points_adjusted",
    "tier_changed",
    "statement_closed",
)


class WebhookEndpoint(models.Model):
    """A partner app's URL that receives the events it subscribed to, signed with
    ``secret``. Unlike an API key the secret is stored (the HMAC needs it); it is
    shown to the partner when the endpoint is created, and again only to a retry
    of that request with its idempotency key."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=80)
    events = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The registration's idempotency key: a retry with it answers this endpoint
    # (and its secret) instead of registering a second one.
    idempotency_scope = models.CharField(max_length=80, null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    # With a database default: a web node still on the previous release inserts
    # endpoints without it during a rolling deploy.
    request_hash = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        db_table = "loyalty_graphql_webhookendpoint"
        ordering: ClassVar = ["id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"],
                name="webhook_endpoint_idempotency",
            )
        ]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # Claimed by one attempt; ``next_attempt_at`` is then the end of its lease.
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint, and what became of it: the delivery log.

    While it is unfinished (pending or sending) ``next_attempt_at`` is always set:
    when the next attempt is due, or when the running attempt's lease ends. The
    sweep re-enqueues the ones overdue by more than a margin."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=40)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "loyalty_graphql_webhookdelivery"
        ordering: ClassVar = ["-id"]
        indexes: ClassVar = [
            # The sweep's look-up: small, since finished deliveries leave it.
            models.Index(
                fields=["next_attempt_at"],
                name="webhooks_delivery_due_idx",
                condition=models.Q(status__in=["pending", "sending"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk} to {self.endpoint_id}: {self.status}"
