from django.apps import AppConfig


class GoodwillConfig(AppConfig):
    name = "coalition.goodwill"
    label = "goodwill"
    verbose_name = "Coalition goodwill"
