"""Tier levels, the tier programme's policy, each member's tier and its history."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class TierLevel(models.Model):
    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=60)
    rank = models.PositiveIntegerField(unique=True)  # 0 is the entry level
    threshold_points = models.BigIntegerField()  # qualifying points to reach it
    # The operator console's add form, once per form: a second press of its button
    # finds the level the first one added (None for levels made otherwise).
    request_key = models.CharField(max_length=80, null=True, blank=True, unique=True)

    class Meta:
        ordering: ClassVar = ["rank"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(threshold_points__gte=0), name="tier_threshold_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class QualificationPeriod(models.TextChoices):
    ROLLING_12_MONTHS = "rolling_12_months", "Rolling 12 months"
    CALENDAR_YEAR = "calendar_year", "Calendar year"


class TierPolicy(models.Model):
    """The programme's single policy row (the operator edits it in the operator
    console: ``tier_policy_set``)."""

    qualification = models.CharField(
        max_length=20, choices=QualificationPeriod.choices,
        default=QualificationPeriod.ROLLING_12_MONTHS,
    )  # fmt: skip
    grace_days = models.PositiveIntegerField(default=30)

    def __str__(self) -> str:
        return f"{self.qualification}, {self.grace_days} days grace"


class MemberTier(models.Model):
    member = models.OneToOneField("members.Member", on_delete=models.PROTECT, related_name="tier")
    level = models.ForeignKey(TierLevel, on_delete=models.PROTECT, related_name="+")
    achieved_at = models.DateTimeField()
    # End of the current qualification period: the only moment a downgrade is considered.
    review_at = models.DateTimeField()
    # Set when the review found the member below the level: downgrade happens then.
    grace_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.member_id}: {self.level_id}"


class TierChange(models.Model):
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    from_level = models.ForeignKey(
        TierLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_level = models.ForeignKey(TierLevel, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    qualifying_points = models.BigIntegerField()
    changed_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_level_id}->{self.to_level_id}"


class QualifyingMonth(models.Model):
    """A member's qualifying points earned in one UTC calendar month: earns minus
    their reversals, at every partner (the running aggregate the tier check reads).

    ``points`` is the month's total; ``first_at``/``last_at`` and
    ``first_tx``/``last_tx`` bound the month's entries in time and in the journal.
    A window that cuts a month but holds all its entries (the month the check after
    a purchase ends in) counts the total; one that cuts through the entries (the
    month a rolling window starts in) sums that month's entries from the journal,
    an index range between the two transaction ids. The row is written by the
    statement that posts the journal entries: a statement-level trigger on
    ``ledger_entry`` (migrations 0002 and 0003), so every path that earns or
    reverses an earn keeps it right, the ledger's code untouched. The row has a
    fixed size: a member earning often makes no later earn dearer.
    """

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    month = models.DateField()  # its first day
    points = models.BigIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    first_tx = models.BigIntegerField()
    last_tx = models.BigIntegerField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["member", "month"], name="one_qualifying_month"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.month:%Y-%m}: {self.points}"
