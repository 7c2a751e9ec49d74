from django.apps import AppConfig


class PurchasesConfig(AppConfig):
    name = "tenants.purchases"
    label = "purchases"
    verbose_name = "Purchases"
