"""Webhook endpoint management for partner apps, on the partner's host: list the
partner's endpoints and their delivery log, register an endpoint (its signing
secret is answered once) and disable one.

It is back-office work, not a till's: it needs the key's ``settlement`` scope
(``WEBHOOK_SCOPE``), the scope of the partner's back office.
"""

from __future__ import annotations

from typing import Any

import graphene

from coalition.webhooks.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint
from coalition.webhooks.selectors import (
    webhook_deliveries,
    webhook_endpoint_of,
    webhook_endpoints,
)
from coalition.webhooks.services import webhook_endpoint_create, webhook_endpoint_deactivate
from loyalty_graphql.auth import Principal
from loyalty_graphql.base import LoyaltyMutation
from loyalty_graphql.limits import page_size
from loyalty_graphql.partner_api import require
from loyalty_graphql.types import decode_cursor, encode_cursor, page_info
from loyalty_kernel.tenancy import current_tenant

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


class WebhookOperations(graphene.ObjectType):
    webhook_endpoints = graphene.List(
        graphene.NonNull(WebhookEndpointView),
        required=True,
        description="This partner's endpoints, active or not, oldest first.",
    )
    webhook_deliveries = graphene.Field(
        WebhookDeliveryConnection,
        required=True,
        first=graphene.Int(),
        after=graphene.String(),
        description="The delivery log of this partner's endpoints, newest first.",
    )

    @staticmethod
    def resolve_webhook_endpoints(root: Any, info: Any) -> list[WebhookEndpointView]:
        principal = require(info, WEBHOOK_SCOPE)
        assert principal.partner_id is not None
        return [endpoint_view(e) for e in webhook_endpoints(partner_id=principal.partner_id)]

    @staticmethod
    def resolve_webhook_deliveries(
        root: Any, info: Any, first: int | None = None, after: str | None = None
    ) -> WebhookDeliveryConnection:
        principal = require(info, WEBHOOK_SCOPE)
        assert principal.partner_id is not None
        page = webhook_deliveries(
            partner_id=principal.partner_id, before=decode_cursor(after), limit=page_size(first)
        )
        edges = [
            WebhookDeliveryConnection.Edge(
                node=delivery_view(delivery), cursor=encode_cursor(delivery.pk)
            )
            for delivery in page.deliveries
        ]
        return WebhookDeliveryConnection(
            edges=edges, page_info=page_info(edges, page.next_before is not None, after)
        )


class CreateWebhookEndpoint(LoyaltyMutation):
    """Register an endpoint for some events. The answer carries the endpoint's
    signing secret: keep it, only a retry with the same idempotency key and
    arguments answers it (and the same endpoint) again."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        url = graphene.String(required=True)
        events = graphene.List(graphene.NonNull(WebhookEvent), required=True)

    endpoint = graphene.Field(WebhookEndpointView)
    signing_secret = graphene.String(
        description="HMAC-SHA256 key of X-Loyalty-Signature; shown only here."
    )
    scope = WEBHOOK_SCOPE

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        endpoint, secret = webhook_endpoint_create(
            partner=current_tenant(),
            url=args["url"],
            events=[event.value for event in args["events"]],
            idempotency=cls.idempotency(principal, args["idempotency_key"]),
        )
        return {"endpoint": endpoint_view(endpoint), "signing_secret": secret}


class DisableWebhookEndpoint(LoyaltyMutation):
    """Stop sending events to an endpoint: no new deliveries, and the unfinished
    ones end failed at their next attempt. Disabling a disabled endpoint answers
    it as it is."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        id = graphene.ID(required=True)

    endpoint = graphene.Field(WebhookEndpointView)
    scope = WEBHOOK_SCOPE

    @classmethod
    def perform(cls, info: Any, principal: Principal, **args: Any) -> dict[str, Any]:
        assert principal.partner_id is not None
        endpoint = webhook_endpoint_of(partner_id=principal.partner_id, endpoint_id=int(args["id"]))
        return {"endpoint": endpoint_view(webhook_endpoint_deactivate(endpoint=endpoint))}


class WebhookMutations(graphene.ObjectType):
    create_webhook_endpoint = CreateWebhookEndpoint.Field()
    disable_webhook_endpoint = DisableWebhookEndpoint.Field()
