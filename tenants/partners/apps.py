from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "tenants.partners"
    label = "partners"
    verbose_name = "Partners"
