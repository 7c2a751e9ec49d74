from django.apps import AppConfig


class ExpiryConfig(AppConfig):
    name = "coalition.expiry"
    label = "expiry"
    verbose_name = "Points expiry"
