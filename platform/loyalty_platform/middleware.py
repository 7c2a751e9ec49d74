"""Routes each request to the public site or a partner's site by host name."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.postgresql_backend.base import FakeTenant
from django_tenants.utils import get_public_schema_name

from tenants.partners.selectors import partner_by_host


class CoalitionSite(FakeTenant):
    """The public schema as a tenant: the operator's site, portal and coalition API."""

    is_public = True
    name = "coalition"

    def __init__(self) -> None:
        super().__init__(schema_name=get_public_schema_name())


class PartnerHostMiddleware(TenantMainMiddleware):
    """Public hosts (the base domain) need no tenant row; every other host must be a
    partner's domain, and an unknown one gets a plain 404 page, never a stack trace."""

    def get_tenant(self, domain_model: Any, hostname: str) -> Any:
        if hostname in settings.LOYALTY_PUBLIC_HOSTS:
            return CoalitionSite()
        # Every partner request starts here: one schema-qualified statement on the
        # driver connection (no ORM compilation, no search_path round trip), read
        # fresh each time so a suspension applies to the very next request.
        partner = partner_by_host(hostname)
        if partner is None:
            raise domain_model.DoesNotExist(hostname)
        return partner

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        body = render_to_string(
            "loyalty_platform/unknown_host.html",
            {"hostname": hostname, "base_domain": settings.LOYALTY_BASE_DOMAIN},
        )
        return HttpResponseNotFound(body)
