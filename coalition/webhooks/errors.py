"""Typed errors of the webhooks app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class InvalidWebhookEndpoint(DomainError):
    code = "invalid_webhook_endpoint"
    field = "url"


class UnknownWebhookEndpoint(DomainError):
    code = "unknown_webhook_endpoint"
    field = "id"


class UnknownWebhookDelivery(DomainError):
    code = "unknown_webhook_delivery"
    field = "id"


class WebhookEndpointDisabled(DomainError):
    code = "webhook_endpoint_disabled"
