from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "tenants.staff"
    label = "staff"
    verbose_name = "Partner staff"
    default_auto_field = "django.db.models.BigAutoField"
