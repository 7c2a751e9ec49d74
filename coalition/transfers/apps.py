from typing import Any

from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "coalition.transfers"
    label = "transfers"
    verbose_name = "Transfers and households"

    def ready(self) -> None:
        from coalition.members.signals import member_erased
        from coalition.transfers.services import household_forget_member

        def forget(sender: Any, member_id: int, email: str, **_: Any) -> None:
            household_forget_member(member_id=member_id, email=email)

        member_erased.connect(forget, dispatch_uid="transfers.forget_member")
