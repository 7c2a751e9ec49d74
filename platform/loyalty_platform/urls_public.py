"""URLs of the public host: coalition home, member portal, operator console and admin,
coalition API."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from coalition.settlement.stripe.events import stripe_webhook
from loyalty_graphql.middleware import TypedErrorMiddleware
from loyalty_graphql.schema import coalition_schema
from loyalty_platform import views

admin.site.site_header = f"{settings.LOYALTY_COALITION_NAME} operator"
admin.site.site_title = "Coalition operator"

urlpatterns = [
    path("", views.coalition_home, name="coalition-home"),
    path("portal/", include("loyalty_web.portal.urls")),
    path("operator/", include("loyalty_web.operator.urls")),
    path("admin/", admin.site.urls),
    path(
        "graphql",
        csrf_exempt(
            views.GraphQLEndpoint.as_view(
                graphiql=settings.LOYALTY_GRAPHIQL,
                schema=coalition_schema,
                middleware=[TypedErrorMiddleware()],
            )
        ),
        name="graphql",
    ),
    path("stripe/webhook", stripe_webhook, name="stripe-webhook"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
]

# A database outage that reaches Django's last resort is still a 503, not a 500.
handler500 = "loyalty_platform.middleware.server_error_or_unavailable"
