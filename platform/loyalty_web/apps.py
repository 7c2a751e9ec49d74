from django.apps import AppConfig


class LoyaltyWebConfig(AppConfig):
    name = "loyalty_web"
    label = "loyalty_web"
    verbose_name = "Web pages"
