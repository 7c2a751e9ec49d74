from typing import Any

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "coalition.notifications"
    label = "notifications"
    verbose_name = "Member notifications"

    def ready(self) -> None:
        from coalition.members.signals import member_erased
        from coalition.notifications.services import notifications_forget_member

        def forget(sender: Any, member_id: int, email: str, **_: Any) -> None:
            notifications_forget_member(member_id=member_id)

        member_erased.connect(forget, dispatch_uid="notifications.forget_member")
