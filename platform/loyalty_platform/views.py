"""Pages of the public site (the coalition home; the member portal is
loyalty_web.portal), the GraphQL endpoint
with its GraphiQL page, and a health check for load balancers."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from loyalty_graphql.views import LoyaltyGraphQLView
from loyalty_kernel.tenancy import current_schema
from tenants.partners.selectors import partners_active


class GraphQLEndpoint(LoyaltyGraphQLView):
    """The API view with our GraphiQL page: graphene-django's loads its scripts
    from a CDN; ours serves the same files from static/vendor, so the page works
    offline and behind proxies that block CDNs."""

    graphiql_template = "loyalty_platform/graphiql.html"


def coalition_home(request: HttpRequest) -> HttpResponse:
    partners = list(partners_active().prefetch_related("domains"))
    return render(
        request,
        "loyalty_platform/coalition_home.html",
        {"coalition_name": settings.LOYALTY_COALITION_NAME, "partners": partners},
    )


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "schema": current_schema()})
