"""Rewards, vouchers and points payments (tenant schema)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.db import models


class Reward(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    points_price = models.PositiveIntegerField()
    stock = models.PositiveIntegerField(null=True, blank=True)  # null: unlimited
    per_member_limit = models.PositiveIntegerField(null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    channels = models.JSONField(default=list, blank=True)  # empty: every channel
    voucher_validity_days = models.PositiveIntegerField(default=90)
    category = models.CharField(max_length=60, blank=True)  # e.g. "travel", for filters
    # Offered to members in the coalition catalogue (portal, member apps); when not,
    # it is redeemable only where the partner offers it itself (its tills and apps).
    in_catalogue = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)  # False: retired
    created_at = models.DateTimeField(auto_now_add=True)
    # The console form's or API call's idempotency key: a repeat creates nothing new.
    request_key = models.CharField(max_length=80, null=True, blank=True, unique=True)

    class Meta:
        ordering: ClassVar = ["points_price", "code"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(points_price__gt=0), name="reward_price_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(stock__isnull=True) | models.Q(stock__gte=0),
                name="reward_stock_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VoucherStatus(models.TextChoices):
    ISSUED = "issued", "Issued"
    CONSUMED = "consumed", "Consumed"
    CANCELLED = "cancelled", "Cancelled"


class Voucher(models.Model):
    """Single-use proof of a redeemed reward, honoured only by this partner."""

    code = models.CharField(max_length=16, unique=True)
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="vouchers")
    # Indexed by ``voucher_member_reward`` (member, reward), which serves lookups by
    # member alone too: no index of its own.
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    points = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.ISSUED
    )
    issued_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    burn_transaction_id = models.BigIntegerField()
    refund_transaction_id = models.BigIntegerField(null=True, blank=True)
    # The request that consumed it, so the till's retry gets the same answer.
    consumed_scope = models.CharField(max_length=80, null=True, blank=True)
    consumed_key = models.CharField(max_length=120, null=True, blank=True)
    idempotency_scope = models.CharField(max_length=80, null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="voucher_idempotency"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status="issued", consumed_at__isnull=True, cancelled_at__isnull=True)
                    | models.Q(status="consumed", consumed_at__isnull=False)
                    | models.Q(status="cancelled", cancelled_at__isnull=False)
                ),
                name="voucher_status_consistent",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["member", "reward"], name="voucher_member_reward"),
        ]

    def __str__(self) -> str:
        return self.code


class PointsPaymentSettings(models.Model):
    """What a point is worth at this partner's tills (its published value)."""

    # Money, in minor units of ``currency``, that one point pays for (e.g. 1 = 0.01 EUR).
    value_per_point = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(1))
    currency = models.CharField(max_length=3)
    minimum_points = models.PositiveIntegerField(default=1)
    hold_minutes = models.PositiveIntegerField(default=15)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(value_per_point__gt=0), name="point_value_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"1 point = {self.value_per_point} {self.currency} minor units"


class PointsPaymentStatus(models.TextChoices):
    AUTHORIZED = "authorized", "Authorized"
    CAPTURED = "captured", "Captured"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


class PointsPayment(models.Model):
    """Points reserved (a ledger hold) to pay part of a basket at the till.

    Its status follows its hold: the till captures or voids it, and the
    hold-expiry job marks it expired when the hold expires."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    hold_id = models.BigIntegerField(unique=True)
    reference = models.CharField(max_length=120, blank=True)
    points = models.PositiveIntegerField()
    amount = models.BigIntegerField()  # money the points cover, minor units
    currency = models.CharField(max_length=3)
    # What a point paid when the member agreed to pay: a partial capture converts
    # at this value, whatever the partner publishes later.
    value_per_point = models.DecimalField(max_digits=12, decimal_places=4)
    captured_points = models.PositiveIntegerField(default=0)
    captured_amount = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=PointsPaymentStatus.choices, default=PointsPaymentStatus.AUTHORIZED
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes: ClassVar = [
            # The hold-expiry job looks for authorised payments only.
            models.Index(
                fields=["hold_id"],
                condition=models.Q(status=PointsPaymentStatus.AUTHORIZED),
                name="rewards_payment_authorized",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points} points for {self.amount} {self.currency}"
