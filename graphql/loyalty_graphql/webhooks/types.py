"""Webhook endpoints and their delivery log, as a partner's back office sees them."""

from __future__ import annotations

import graphene

from coalition.webhooks.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint

# Back-office work, not a till's: the scope of the partner's back office.
WEBHOOK_SCOPE = "settlement"

WebhookEvent = graphene.Enum(
    "WebhookEvent",
    [(event.upper(), event) for event in WEBHOOK_EVENTS],
    description="Events a webhook endpoint can subscribe to (X-Loyalty-Event is the value).",
)


class WebhookEndpointView(graphene.ObjectType):
    id = graphene.ID(required=True)
    url = graphene.String(required=True)
    events = graphene.List(graphene.NonNull(WebhookEvent), required=True)
    active = graphene.Boolean(required=True)
    created_at = graphene.DateTime(required=True)


def endpoint_view(endpoint: WebhookEndpoint) -> WebhookEndpointView:
    return WebhookEndpointView(
        id=str(endpoint.pk),
        url=endpoint.url,
        events=list(endpoint.events),
        active=endpoint.is_active,
        created_at=endpoint.created_at,
    )


class WebhookDeliveryView(graphene.ObjectType):
    id = graphene.ID(required=True, description="Also the body's id and X-Loyalty-Delivery.")
    endpoint_id = graphene.ID(required=True)
    url = graphene.String(required=True)
    event = graphene.Field(WebhookEvent, required=True)
    status = graphene.String(
        required=True, description="pending or sending until it ends succeeded or failed."
    )
    attempts = graphene.Int(required=True)
    last_status_code = graphene.Int()
    last_error = graphene.String(required=True)
    next_attempt_at = graphene.DateTime()
    created_at = graphene.DateTime(required=True)
    delivered_at = graphene.DateTime()
    payload = graphene.JSONString(required=True, description="The event's data, as sent.")


class WebhookDeliveryConnection(graphene.relay.Connection):
    class Meta:
        node = WebhookDeliveryView


def delivery_view(delivery: WebhookDelivery) -> WebhookDeliveryView:
    return WebhookDeliveryView(
        id=str(delivery.pk),
        endpoint_id=str(delivery.endpoint_id),
        url=delivery.endpoint.url,
        event=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        payload=delivery.payload,
    )
