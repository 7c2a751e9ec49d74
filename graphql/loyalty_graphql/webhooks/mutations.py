"""Registering an endpoint (its signing secret is answered once) and disabling one."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.webhooks.models import WebhookEndpoint
from coalition.webhooks.selectors import webhook_endpoint_of
from coalition.webhooks.services import webhook_endpoint_create, webhook_endpoint_deactivate
from loyalty_graphql.answers import Json
from loyalty_graphql.base import Call, LoyaltyMutation, partner_id_of
from loyalty_graphql.webhooks.types import (
    WEBHOOK_SCOPE,
    WebhookEndpointView,
    WebhookEvent,
    endpoint_view,
)
from loyalty_kernel.tenancy import current_tenant


class CreateWebhookEndpoint(LoyaltyMutation):
    """Register an endpoint for some events. The answer carries the endpoint's
    signing secret: keep it, only a retry with the same idempotency key and
    arguments answers it (and the same endpoint) again."""

    class Arguments:
        url = graphene.String(required=True)
        events = graphene.List(graphene.NonNull(WebhookEvent), required=True)

    endpoint = graphene.Field(WebhookEndpointView)
    signing_secret = graphene.String(
        description="HMAC-SHA256 key of X-Loyalty-Signature; shown only here."
    )
    scope = WEBHOOK_SCOPE

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        endpoint, secret = webhook_endpoint_create(
            partner=current_tenant(),
            url=args["url"],
            events=[event.value for event in args["events"]],
            idempotency=call.idempotency,
        )
        return {"endpoint": endpoint_view(endpoint), "signing_secret": secret}

    @classmethod
    def fingerprinted(cls, arguments: dict[str, Any]) -> dict[str, Any]:
        # The events are a set: the same ones in another order, or one named
        # twice, are the same request (as the service's own fingerprint has it).
        return {**arguments, "events": sorted({event.value for event in arguments["events"]})}

    @classmethod
    def stored_form(cls, payload: dict[str, Any]) -> Json:
        # The secret stays in the endpoint's row alone, not copied into answers.
        return super().stored_form({"endpoint": payload["endpoint"]})

    @classmethod
    def from_stored(cls, stored: Json) -> dict[str, Any]:
        endpoint_id = int(stored["endpoint"]["id"])
        secret = WebhookEndpoint.objects.values_list("secret", flat=True).get(pk=endpoint_id)
        return {**super().from_stored(stored), "signing_secret": secret}


class DisableWebhookEndpoint(LoyaltyMutation):
    """Stop sending events to an endpoint: no new deliveries, and the unfinished
    ones end failed at their next attempt. Disabling a disabled endpoint answers
    it as it is."""

    class Arguments:
        id = graphene.ID(required=True)

    endpoint = graphene.Field(WebhookEndpointView)
    scope = WEBHOOK_SCOPE

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        endpoint = webhook_endpoint_of(
            partner_id=partner_id_of(call.principal), endpoint_id=int(args["id"])
        )
        return {"endpoint": endpoint_view(webhook_endpoint_deactivate(endpoint=endpoint))}
