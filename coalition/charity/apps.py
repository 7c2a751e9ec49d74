from django.apps import AppConfig


class CharityConfig(AppConfig):
    name = "coalition.charity"
    label = "charity"
    verbose_name = "Charities"
