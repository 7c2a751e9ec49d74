"""A member's own e-mail choices over the coalition API (member token): which
service e-mails they receive (points earned, rewards redeemed, points about to
expire, tier changes), the switches of the portal's profile page.

``myEmailChoices`` reads every kind; ``updateMyEmailChoices`` switches the kinds
named and leaves the others as they are. Each change is recorded among the
member's profile changes (channel ``app``), as the portal records its own. An
unknown kind is UNKNOWN_NOTIFICATION_KIND and changes nothing."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.notifications.models import NotificationKind
from coalition.notifications.selectors import notification_preferences
from coalition.notifications.services import notification_preferences_save
from loyalty_graphql.base import MEMBER, Call, LoyaltyMutation, member_id_of, require

# How the member's profile changes name a change made from a member app.
CHANNEL = "app"


class EmailChoice(graphene.ObjectType):
    kind = graphene.String(
        required=True,
        description="points_earned, reward_redeemed, points_expiring or tier_changed.",
    )
    label = graphene.String(required=True, description="What the e-mails are about.")
    enabled = graphene.Boolean(required=True, description="False: the member switched it off.")


class EmailChoiceInput(graphene.InputObjectType):
    kind = graphene.String(required=True)
    enabled = graphene.Boolean(required=True)


def _choices(member_id: int) -> list[dict[str, Any]]:
    labels = dict(NotificationKind.choices)
    return [
        {"kind": kind, "label": str(labels[kind]), "enabled": enabled}
        for kind, enabled in notification_preferences(member_id).items()
    ]


class EmailChoiceQueries(graphene.ObjectType):
    my_email_choices = graphene.List(
        graphene.NonNull(EmailChoice),
        required=True,
        description="Every kind of service e-mail, on or off for the member (member token).",
    )

    @staticmethod
    def resolve_my_email_choices(root: Any, info: Any) -> list[dict[str, Any]]:
        return _choices(member_id_of(require(info, MEMBER)))


class UpdateMyEmailChoices(LoyaltyMutation):
    """Switch the kinds named on or off; the others keep their choice."""

    class Arguments:
        choices = graphene.List(graphene.NonNull(EmailChoiceInput), required=True)

    choices = graphene.List(
        graphene.NonNull(EmailChoice), description="Every kind, after the change."
    )
    changed = graphene.List(
        graphene.NonNull(graphene.String), description="The kinds this request switched."
    )
    allowed = MEMBER

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        member_id = member_id_of(call.principal)
        changed = notification_preferences_save(
            member_id=member_id,
            choices={choice["kind"]: choice["enabled"] for choice in args["choices"]},
            channel=CHANNEL,
        )
        return {"choices": _choices(member_id), "changed": changed}
