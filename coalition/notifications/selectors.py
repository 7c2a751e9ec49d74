"""Reads of notification preferences and the outbox."""

from __future__ import annotations

from coalition.notifications.models import (
    MemberLanguage,
    Notification,
    NotificationKind,
    NotificationPreference,
)


def notification_preferences(member_id: int) -> dict[str, bool]:
    """Every kind, on or off for the member (on unless they switched it off)."""
    chosen = dict(
        NotificationPreference.objects.filter(member_id=member_id).values_list("kind", "enabled")
    )
    return {kind: chosen.get(kind, True) for kind in NotificationKind.values}


def notification_enabled(member_id: int, kind: str) -> bool:
    return not NotificationPreference.objects.filter(
        member_id=member_id, kind=kind, enabled=False
    ).exists()


def members_with_kind_off(member_ids: list[int], kind: str) -> set[int]:
    """Of these members, those who switched ``kind`` off (one query for a batch)."""
    return set(
        NotificationPreference.objects.filter(
            member_id__in=member_ids, kind=kind, enabled=False
        ).values_list("member_id", flat=True)
    )


def member_language(member_id: int) -> str | None:
    return (
        MemberLanguage.objects.filter(member_id=member_id)
        .values_list("language", flat=True)
        .first()
    )


def notifications_sent(member_id: int, kind: str | None = None) -> list[Notification]:
    rows = Notification.objects.filter(member_id=member_id).order_by("-created_at", "-pk")
    return list(rows.filter(kind=kind) if kind else rows)


def notifications_export(member_id: int) -> dict[str, object]:
    """What "download my data" holds of notifications: the choices, the language
    and each e-mail sent or skipped."""
    return {
        "choices": notification_preferences(member_id),
        "language": member_language(member_id),
        "emails": [
            {
                "kind": row.kind,
                "key": row.key,
                "status": row.status,
                "subject": row.subject,
                "at": row.created_at.isoformat(),
            }
            for row in notifications_sent(member_id)
        ],
    }
