from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "coalition.webhooks"
    label = "webhooks"
    verbose_name = "Outbound webhooks"
