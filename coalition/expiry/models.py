"""Expiry policy and reminders sent (public schema)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class ExpiryMode(models.TextChoices):
    FIXED = "fixed", "Fixed months after earning"
    INACTIVITY = "inactivity", "After months without activity"


class ExpiryPolicy(models.Model):
    """The coalition's single policy row. In the jurisdictions listed in
    ``inactivity_only_countries`` time-only expiry is not allowed, so members
    there fall under the inactivity rule whatever the mode."""

    mode = models.CharField(max_length=10, choices=ExpiryMode.choices, default=ExpiryMode.FIXED)
    months = models.PositiveIntegerField(default=24)
    inactivity_months = models.PositiveIntegerField(default=24)
    reminder_days = models.PositiveIntegerField(default=30)
    inactivity_only_countries = models.JSONField(default=list, blank=True)  # ISO 3166 alpha-2

    class Meta:
        verbose_name_plural = "expiry policy"

    def __str__(self) -> str:
        return f"{self.mode} {self.months} months"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"


class ExpiryReminder(models.Model):
    """One reminder per member and expiry day: the unique row is what makes
    'sent once' hold across reruns and concurrent runs of the job."""

    # Indexed by ``one_reminder_per_day`` (member, expires on), which serves lookups
    # by member alone too: no index of its own.
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    expires_on = models.DateField()
    points = models.BigIntegerField()
    status = models.CharField(
        max_length=8, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["member", "expires_on"], name="one_reminder_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.points} on {self.expires_on}"
