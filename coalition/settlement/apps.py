from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "coalition.settlement"
    label = "settlement"
    verbose_name = "Settlement"
