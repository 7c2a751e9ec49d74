from django.apps import AppConfig


class TiersConfig(AppConfig):
    name = "coalition.tiers"
    label = "tiers"
    verbose_name = "Tiers"
