from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "coalition.members"
    label = "members"
    verbose_name = "Members"
