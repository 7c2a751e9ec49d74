from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "coalition.ledger"
    label = "ledger"
    verbose_name = "Points ledger"
