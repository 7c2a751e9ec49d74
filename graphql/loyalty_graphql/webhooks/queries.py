"""A partner's endpoints and the delivery log of their events (``settlement`` scope)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.webhooks.selectors import webhook_deliveries, webhook_endpoints
from loyalty_graphql.base import PARTNER, partner_id_of, require
from loyalty_graphql.core.types import connection_page, decode_cursor
from loyalty_graphql.limits import page_size
from loyalty_graphql.webhooks.types import (
    WEBHOOK_SCOPE,
    WebhookDeliveryConnection,
    WebhookEndpointView,
    delivery_view,
    endpoint_view,
)


class WebhookQueries(graphene.ObjectType):
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
        principal = require(info, PARTNER, WEBHOOK_SCOPE)
        return [endpoint_view(e) for e in webhook_endpoints(partner_id=partner_id_of(principal))]

    @staticmethod
    def resolve_webhook_deliveries(
        root: Any, info: Any, first: int | None = None, after: str | None = None
    ) -> WebhookDeliveryConnection:
        principal = require(info, PARTNER, WEBHOOK_SCOPE)
        page = webhook_deliveries(
            partner_id=partner_id_of(principal),
            before=decode_cursor(after),
            limit=page_size(first),
        )
        return connection_page(
            WebhookDeliveryConnection,
            ((delivery_view(delivery), delivery.pk) for delivery in page.deliveries),
            has_next_page=page.next_before is not None,
            after=after,
        )
