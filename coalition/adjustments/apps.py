from django.apps import AppConfig


class AdjustmentsConfig(AppConfig):
    name = "coalition.adjustments"
    label = "adjustments"
    verbose_name = "Points adjustments"
