from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "coalition.transfers"
    label = "transfers"
    verbose_name = "Transfers and households"
