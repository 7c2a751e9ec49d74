from django.apps import AppConfig


class MemberAuthConfig(AppConfig):
    name = "coalition.member_auth"
    label = "member_auth"
    verbose_name = "Member sign-in"
