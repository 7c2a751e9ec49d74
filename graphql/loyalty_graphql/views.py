"""The HTTP endpoint: request size limit, authentication, tenant/host agreement,
per-key rate limiting, then graphene with our validation rules."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from graphene_django.views import GraphQLView

from loyalty_graphql.auth import AuthenticationFailed, Principal, authenticate
from loyalty_graphql.limits import validation_rules
from loyalty_platform.schemas import current_tenant


def http_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status=status
    )


def over_rate_limit(key: str) -> bool:
    """Fixed one-second windows in the shared cache (Redis when configured)."""
    window = f"ratelimit:{key}:{int(time.time())}"
    cache.add(window, 0, timeout=2)
    try:
        count = cache.incr(window)
    except ValueError:  # expired between add and incr
        cache.add(window, 1, timeout=2)
        count = 1
    return count > settings.LOYALTY_API_RATE_LIMIT


def host_problem(principal: Principal) -> str | None:
    tenant = current_tenant()
    on_public = getattr(tenant, "schema_name", "public") == "public"
    if principal.kind == "partner" and (on_public or tenant.pk != principal.partner_id):
        return "this API key belongs to another partner's host"
    if principal.kind in {"operator", "member"} and not on_public:
        return f"{principal.kind} credentials are used on the coalition host"
    return None


class LoyaltyGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if len(request.body or b"") > settings.LOYALTY_GRAPHQL_MAX_BODY_BYTES:
            return http_error(413, "invalid_input", "request body too large")
        try:
            principal = authenticate(request)
        except AuthenticationFailed as exc:
            return http_error(401, "unauthenticated", exc.message)
        problem = host_problem(principal)
        if problem:
            return http_error(403, "permission_denied", problem)
        limit_key = principal.rate_limit_key
        if principal.kind == "anonymous":
            limit_key = f"ip:{request.META.get('REMOTE_ADDR', '')}"
        if over_rate_limit(limit_key):
            return http_error(429, "rate_limited", "too many requests for this key; slow down")
        setattr(request, "principal", principal)  # noqa: B010 - read by resolvers
        self.validation_rules = validation_rules()
        return super().dispatch(request, *args, **kwargs)
