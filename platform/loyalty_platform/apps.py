from django.apps import AppConfig


class LoyaltyPlatformConfig(AppConfig):
    name = "loyalty_platform"
    label = "loyalty_platform"
    verbose_name = "Loyalty platform"
