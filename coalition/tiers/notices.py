"""The member's e-mail when their tier changes, up or down, through their
notification choices and the outbox (one e-mail per recorded change). Joining
at the entry level on a first earn is not news and sends nothing."""

from __future__ import annotations

from celery import shared_task

from coalition.notifications.models import NotificationKind, NotificationStatus
from coalition.notifications.services import notification_send
from coalition.tiers.models import TierChange, TierLevel


def is_news(old: TierLevel | None, new: TierLevel) -> bool:
    """Whether a change is worth the member's e-mail: any move, but joining at the
    entry level (the first earn of every new member)."""
    return not (old is None and new.rank == 0)


def tier_change_notice_send(*, change_id: int) -> bool:
    change = (
        TierChange.objects.select_related("from_level", "to_level").filter(pk=change_id).first()
    )
    if change is None:
        return False
    old, new = change.from_level, change.to_level
    if not is_news(old, new):
        return False
    notification = notification_send(
        member_id=change.member_id,
        kind=NotificationKind.TIER_CHANGED,
        key=f"tier-change:{change.pk}",
        context={
            "upgrade": old is None or new.rank > old.rank,
            "from_name": old.name if old else "",
            "to_name": new.name,
        },
    )
    return notification is not None and notification.status == NotificationStatus.SENT


# Here rather than in tasks.py: the tier services enqueue it, and tasks.py
# imports the services.
@shared_task(name="tiers.send_change_notice", acks_late=True)
def send_change_notice(change_id: int) -> bool:
    return tier_change_notice_send(change_id=change_id)
