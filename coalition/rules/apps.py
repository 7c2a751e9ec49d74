from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "coalition.rules"
    label = "rules"
    verbose_name = "Coalition rules"
