"""Routes each request to the public site or a partner's site by host name, and
answers a database outage with a 503 rather than a server error.

When PostgreSQL cannot be reached (down, restarting, or the connection dropped),
the API answers a typed JSON 503 ``service_unavailable`` with ``Retry-After``,
and pages a plain 503 page: wherever the error is raised (a middleware looking up
the partner, a view, a middleware after the view), the answer is the same."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django.views.defaults import server_error
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.postgresql_backend.base import FakeTenant
from django_tenants.utils import get_public_schema_name

from loyalty_graphql.auth import partner_and_key_by_host
from loyalty_graphql.views import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, service_unavailable

logger = logging.getLogger(__name__)

# Paths whose callers are programs: they get JSON, not a page.
API_PATHS = ("/graphql", "/stripe/webhook", "/healthz")


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for a database outage: JSON for the API, a plain page otherwise."""
    if request.path.rstrip("/") in API_PATHS:
        return service_unavailable()
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Outermost: turns a database outage raised by a view into a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, DATABASE_UNAVAILABLE):
            logger.warning("database unavailable for %s: %s", request.path, exc)
            return unavailable_response(request)
        return None


def server_error_or_unavailable(request: HttpRequest) -> HttpResponse:
    """``handler500``: Django calls it for an exception no view or middleware
    handled (for example one raised by a middleware after the view); a database
    outage is still a 503, anything else the plain 500 page."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return unavailable_response(request)
    return server_error(request)


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
            try:
                tenant, key = partner_and_key_by_host(
                    hostname, request.headers.get("Authorization", "")
                )
            except DATABASE_UNAVAILABLE as exc:
                logger.warning("database unavailable for %s on %s: %s", request.path, hostname, exc)
                return unavailable_response(request)
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
