"""Sending one delivery again: only a finished one (delivered or failed) is
queued again, once for a double click, with the same delivery id and a fresh
count of attempts; another partner's delivery is not found; a disabled
endpoint's deliveries are not sent again. Audited when a person asks."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from coalition.audit.models import AuditEntry
from coalition.webhooks import services as webhooks
from coalition.webhooks.errors import UnknownWebhookDelivery, WebhookEndpointDisabled
from coalition.webhooks.models import DeliveryStatus, WebhookDelivery
from tenants.partners.models import Partner

pytestmark = pytest.mark.django_db


def _delivery(
    partner: Partner, status: str = DeliveryStatus.FAILED, **extra: Any
) -> WebhookDelivery:
    endpoint, _ = webhooks.webhook_endpoint_create(
        partner=partner, url="https://shop.example.com/events", events=["points_earned"]
    )
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="points_earned", payload={"points": 5}, status=status,
        attempts=6, last_status_code=500, last_error="HTTP 500", **extra,
    )  # fmt: skip


def test_a_failed_delivery_is_queued_again_once(
    partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given a failed delivery, as a page showed it
    delivery = _delivery(partner_a)
    seen = webhooks.delivery_seen_state(delivery)
    with (
        mock.patch.object(webhooks, "_enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        # when it is sent again twice (a double click)
        _, queued = webhooks.webhook_delivery_redeliver(
            partner_id=partner_a.pk, delivery_id=delivery.pk, seen_state=seen, actor="owner"
        )
        _, queued_again = webhooks.webhook_delivery_redeliver(
            partner_id=partner_a.pk, delivery_id=delivery.pk, seen_state=seen, actor="owner"
        )
    # then queued once, pending with a fresh count of attempts, audited once
    assert (queued, queued_again) == (True, False)
    row = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 0)
    assert row.next_attempt_at is not None
    enqueue.assert_called_once_with([(delivery.pk, 0)])
    entry = AuditEntry.objects.get(action="webhook.redeliver")
    assert entry.before == {"status": "failed", "attempts": 6}


def test_a_delivery_changed_since_it_was_shown_is_left_alone(partner_a: Partner) -> None:
    delivery = _delivery(partner_a, status=DeliveryStatus.SUCCEEDED)
    with mock.patch.object(webhooks, "_enqueue") as enqueue:
        _, queued = webhooks.webhook_delivery_redeliver(
            partner_id=partner_a.pk, delivery_id=delivery.pk, seen_state="failed:6:-"
        )
    assert not queued
    enqueue.assert_not_called()
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED


def test_another_partners_delivery_is_not_found(partner_a: Partner, partner_b: Partner) -> None:
    delivery = _delivery(partner_b)
    with pytest.raises(UnknownWebhookDelivery):
        webhooks.webhook_delivery_redeliver(partner_id=partner_a.pk, delivery_id=delivery.pk)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED


def test_a_disabled_endpoints_delivery_is_not_sent_again(partner_a: Partner) -> None:
    delivery = _delivery(partner_a)
    webhooks.webhook_endpoint_deactivate(endpoint=delivery.endpoint)
    with pytest.raises(WebhookEndpointDisabled):
        webhooks.webhook_delivery_redeliver(partner_id=partner_a.pk, delivery_id=delivery.pk)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
    assert not AuditEntry.objects.exists()
