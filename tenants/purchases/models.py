"""Receipts and returns (tenant schema). Amounts are integer minor units of
``currency``; points are integers."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class Channel(models.TextChoices):
    POS = "pos", "Point of sale"
    ONLINE = "online", "Online"
    APP = "app", "App"


class PostedRequest(models.Model):
    """What a receipt and a return share: the ledger transaction that posted their
    points (none when they posted nothing) and what a retry is recognised by (the
    client's idempotency key and the request's hash; each table's own unique
    constraint covers the key)."""

    ledger_transaction_id = models.BigIntegerField(null=True)
    idempotency_scope = models.CharField(max_length=80, null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Purchase(PostedRequest):
    # Unique by the constraint below, not ``unique=True``: that would add a second
    # index on every insert, for LIKE searches nothing makes.
    external_id = models.CharField(max_length=120)
    # Its index is ``purchase_member`` (member, occurred_at), which serves lookups
    # by member alone too: a second one on member would only cost every insert.
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    store = models.ForeignKey("stores.Store", null=True, blank=True, on_delete=models.PROTECT)
    occurred_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    total = models.BigIntegerField()
    tax = models.BigIntegerField(default=0)
    tip = models.BigIntegerField(default=0)
    paid_with_points = models.BigIntegerField(default=0)
    rule_version = models.ForeignKey(
        "earning.RuleSetVersion", null=True, on_delete=models.PROTECT, related_name="+"
    )
    rule_points = models.BigIntegerField(default=0)
    campaign_points = models.BigIntegerField(default=0)
    points_awarded = models.BigIntegerField(default=0)
    # Points taken back by returns so far (what the returns asked for, shortfalls included).
    points_reversed = models.BigIntegerField(default=0)
    breakdown = models.JSONField(default=dict)

    class Meta:
        ordering: ClassVar = ["-occurred_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["external_id"], name="purchase_external_id_once"),
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="purchase_idempotency"
            ),
            models.CheckConstraint(
                condition=models.Q(total__gte=0, tax__gte=0, tip__gte=0, paid_with_points__gte=0),
                name="purchase_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(points_reversed__lte=models.F("points_awarded")),
                name="purchase_reversal_within_award",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["member", "occurred_at"], name="purchase_member")]

    def __str__(self) -> str:
        return self.external_id


class PurchaseLine(models.Model):
    # Indexed by ``line_number_once`` (purchase, line number), which finds a
    # purchase's lines too: no index of its own, one insert fewer per line.
    purchase = models.ForeignKey(
        Purchase, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    line_number = models.PositiveIntegerField()
    sku = models.CharField(max_length=64)
    category = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    unit_price = models.BigIntegerField()
    discount = models.BigIntegerField(default=0)
    returned_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["line_number"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["purchase", "line_number"], name="line_number_once"),
            models.CheckConstraint(
                condition=models.Q(returned_quantity__lte=models.F("quantity")),
                name="line_returned_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} x{self.quantity}"

    @property
    def net(self) -> int:
        return self.quantity * self.unit_price - self.discount


class PurchaseReturn(PostedRequest):
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="returns")
    external_id = models.CharField(max_length=120, blank=True)
    value = models.BigIntegerField()  # minor units of the returned line amounts
    points_requested = models.BigIntegerField()
    points_reversed = models.BigIntegerField()
    shortfall = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="return_idempotency"
            ),
            models.CheckConstraint(
                condition=models.Q(points_reversed__gte=0, shortfall__gte=0),
                name="return_points_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"return of {self.purchase_id}"


class PurchaseReturnLine(models.Model):
    purchase_return = models.ForeignKey(
        PurchaseReturn, on_delete=models.PROTECT, related_name="lines"
    )
    line = models.ForeignKey(PurchaseLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.line_id} x{self.quantity}"


class PointsShortfall(models.Model):
    """Points a return should have taken back but the member had already spent.
    Recoverable: reported to the partner, settled or written off later."""

    purchase_return = models.OneToOneField(
        PurchaseReturn, on_delete=models.PROTECT, related_name="shortfall_record"
    )
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField()
    recovered_points = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(points__gt=0), name="shortfall_positive"),
        ]

    def __str__(self) -> str:
        return f"shortfall {self.points} for {self.member_id}"
