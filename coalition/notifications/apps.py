from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "coalition.notifications"
    label = "notifications"
    verbose_name = "Member notifications"
