"""Rollup tables (public schema)."""

from __future__ import annotations

from django.db import models


class PartnerDay(models.Model):
    """What happened at one partner on one day (its own time zone)."""

    partner_id = models.BigIntegerField()
    day = models.DateField()
    points_issued = models.BigIntegerField(default=0)
    points_issue_reversed = models.BigIntegerField(default=0)
    points_redeemed = models.BigIntegerField(default=0)
    points_redeem_reversed = models.BigIntegerField(default=0)
    earn_count = models.IntegerField(default=0)
    redeem_count = models.IntegerField(default=0)
    active_members = models.IntegerField(default=0)
    # Partner adjustments: points added (goodwill or a correction) and taken back.
    points_adjusted_added = models.BigIntegerField(default=0)
    points_adjusted_taken_back = models.BigIntegerField(default=0)
    adjustment_count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner_id", "day"], name="analytics_partner_day")
        ]

    def __str__(self) -> str:
        return f"partner {self.partner_id} on {self.day}"


class MemberActivity(models.Model):
    """A member's last day with points earned or spent at a partner."""

    partner_id = models.BigIntegerField()
    member_id = models.BigIntegerField()
    last_day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner_id", "member_id"], name="analytics_member_activity"
            )
        ]
        indexes = [models.Index(fields=["partner_id", "last_day"], name="analytics_active_recent")]

    def __str__(self) -> str:
        return f"member {self.member_id} at partner {self.partner_id}: {self.last_day}"


class Watermark(models.Model):
    """The highest journal transaction folded into the rollups."""

    name = models.CharField(max_length=40, primary_key=True)
    transaction_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.transaction_id}"
