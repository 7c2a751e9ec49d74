from django.apps import AppConfig


class LoyaltyGraphqlConfig(AppConfig):
    name = "loyalty_graphql"
    label = "loyalty_graphql"
    verbose_name = "GraphQL API"
