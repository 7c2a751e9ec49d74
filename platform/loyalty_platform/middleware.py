"""Routes each request to the public site or a partner's site by host name."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.postgresql_backend.base import FakeTenant
from django_tenants.utils import get_public_schema_name

from loyalty_graphql.auth import partner_and_key_by_host


class CoalitionSite(FakeTenant):
    """The public schema as a tenant: the operator's site, portal and coalition API."""

    is_public = True
    name = "coalition"

    def __init__(self) -> None:
        super().__init__(schema_name=get_public_schema_name())


class PartnerHostMiddleware(TenantMainMiddleware):
    """Public hosts (the base domain) need no tenant row; every other host must be a
    partner's domain, and an unknown one gets a plain 404 page, never a stack trace."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        """django-tenants' own, but a partner API call's key is read in the same
        statement as its partner (every call needs both: one round trip saved)."""
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        if hostname in settings.LOYALTY_PUBLIC_HOSTS:
            tenant: Any = CoalitionSite()
        else:
            tenant, key = partner_and_key_by_host(
                hostname, request.headers.get("Authorization", "")
            )
            if tenant is None:
                return self.no_tenant_found(request, hostname)
            setattr(request, "api_key_lookup", key)  # noqa: B010 - read by authenticate
        tenant.domain_url = hostname
        setattr(request, "tenant", tenant)  # noqa: B010
        connection.set_tenant(tenant)  # type: ignore[attr-defined]
        self.setup_url_routing(request)
        return None

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        body = render_to_string(
            "loyalty_platform/unknown_host.html",
            {"hostname": hostname, "base_domain": settings.LOYALTY_BASE_DOMAIN},
        )
        return HttpResponseNotFound(body)
