"""URLs of a partner's host: merchant console and the partner API."""

from django.conf import settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView

from loyalty_graphql.schema import partner_schema
from loyalty_platform import views

urlpatterns = [
    path("", views.partner_console_home, name="console-home"),
    path(
        "graphql",
        csrf_exempt(GraphQLView.as_view(graphiql=settings.LOYALTY_GRAPHIQL, schema=partner_schema)),
        name="graphql",
    ),
    path("healthz", views.healthz, name="healthz"),
]
