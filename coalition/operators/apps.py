from django.apps import AppConfig


class OperatorsConfig(AppConfig):
    name = "coalition.operators"
    label = "operators"
    verbose_name = "Operator staff"
    default_auto_field = "django.db.models.BigAutoField"
