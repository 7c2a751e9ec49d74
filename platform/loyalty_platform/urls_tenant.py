"""URLs of a partner's host: the partner API, and the merchant console at the root."""

from django.conf import settings
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from loyalty_graphql.middleware import TypedErrorMiddleware
from loyalty_graphql.schema import partner_schema
from loyalty_platform import views

urlpatterns = [
    path(
        "graphql",
        csrf_exempt(
            views.GraphQLEndpoint.as_view(
                graphiql=settings.LOYALTY_GRAPHIQL,
                schema=partner_schema,
                middleware=[TypedErrorMiddleware()],
            )
        ),
        name="graphql",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("loyalty_web.console.urls")),
]

# A database outage that reaches Django's last resort is still a 503, not a 500.
handler500 = "loyalty_platform.middleware.server_error_or_unavailable"
