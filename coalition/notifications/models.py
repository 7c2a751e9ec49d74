"""Notification preferences, the outbox and the digest runs (public schema)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class NotificationKind(models.TextChoices):
    """Service messages a member can switch off one by one. Marketing is not one of
    them: it is the member's separate marketing consent."""

    POINTS_EARNED = "points_earned", "Points earned (a daily summary)"
    REWARD_REDEEMED = "reward_redeemed", "Rewards redeemed"
    POINTS_EXPIRING = "points_expiring", "Points about to expire"
    TIER_CHANGED = "tier_changed", "Tier changes"


class NotificationPreference(models.Model):
    """A member's choice for one kind. No row means the default: on."""

    # Indexed by ``one_preference_per_kind`` (member, kind), which serves lookups by
    # member alone too: no index of its own.
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    enabled = models.BooleanField()
    changed_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["member", "kind"], name="one_preference_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind} {'on' if self.enabled else 'off'}"


class MemberLanguage(models.Model):
    """The language a member last used in the portal when choosing what to receive;
    their e-mails are written in it."""

    member = models.OneToOneField(
        "members.Member", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    language = models.CharField(max_length=8)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.member_id} {self.language}"


class NotificationStatus(models.TextChoices):
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Not sent: switched off or member not active"


class Notification(models.Model):
    """The outbox: one row per member, kind and subject key (the digest's day, the
    voucher, the tier change...), written in the same transaction as the sending.
    The unique row is what makes a retried or concurrent task send nothing twice."""

    # Indexed by ``one_notification_per_key`` (member, kind, key), which serves
    # lookups by member alone too: no index of its own.
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    key = models.CharField(max_length=80)
    status = models.CharField(max_length=8, choices=NotificationStatus.choices)
    subject = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["member", "kind", "key"], name="one_notification_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind} {self.key} {self.status}"


class DigestRun(models.Model):
    """One points-earned digest per day, over the journal transactions with
    ``after_id < id <= through_id``. The next day starts where this one ended, so
    no earn is summed twice or missed; a rerun of the day reuses its window."""

    day = models.DateField(unique=True)
    after_id = models.BigIntegerField()
    through_id = models.BigIntegerField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.day}: ({self.after_id}, {self.through_id}]"
