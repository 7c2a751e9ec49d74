from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "coalition.api_keys"
    label = "api_keys"
    verbose_name = "API keys"
