"""Reads of a partner's outbound webhooks: its endpoints and their delivery log.

The writes (creating and deactivating endpoints, emitting and delivering events)
are in ``coalition.webhooks.services``. Every read is scoped to one partner: an
endpoint or a delivery of another partner is not found, never shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from coalition.webhooks.errors import UnknownWebhookEndpoint
from coalition.webhooks.models import WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS = 100  # far more than any partner registers; a bound on the list


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[WebhookDelivery]
    next_before: int | None  # a delivery id: pass as ``before`` for the next (older) page


def webhook_endpoints(*, partner_id: int) -> list[WebhookEndpoint]:
    """The partner's endpoints, active or not, oldest first."""
    return list(
        WebhookEndpoint.objects.filter(partner_id=partner_id).order_by("id")[:MAX_ENDPOINTS]
    )


def webhook_endpoint_of(*, partner_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(partner_id=partner_id, pk=endpoint_id).first()
    if endpoint is None:
        raise UnknownWebhookEndpoint(f"no webhook endpoint {endpoint_id} for this partner")
    return endpoint


def webhook_deliveries(
    *, partner_id: int, before: int | None = None, limit: int = 20, endpoint_id: int | None = None
) -> DeliveryPage:
    """The delivery log of the partner's endpoints (or of one of them), newest
    first, keyset-paginated by delivery id (stable while new events are logged).
    One statement, with each delivery's endpoint."""
    limit = max(1, min(limit, 200))
    rows = WebhookDelivery.objects.filter(endpoint__partner_id=partner_id).select_related(
        "endpoint"
    )
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    found = list(rows.order_by("-id")[: limit + 1])
    page = found[:limit]
    return DeliveryPage(page, page[-1].pk if len(found) > limit else None)
