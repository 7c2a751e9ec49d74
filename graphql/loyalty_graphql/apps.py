from typing import Any

from django.apps import AppConfig


class LoyaltyGraphqlConfig(AppConfig):
    name = "loyalty_graphql"
    label = "loyalty_graphql"
    verbose_name = "GraphQL API"

    def ready(self) -> None:
        from coalition.members.signals import member_erased
        from loyalty_graphql.answers import forget_enrolment_of

        def forget(sender: Any, member_id: int, **_: Any) -> None:
            forget_enrolment_of(member_id)

        member_erased.connect(forget, dispatch_uid="loyalty_graphql.forget_enrolment")
