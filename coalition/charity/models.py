"""Charities and the donations made to them (public schema)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.db import models


class Charity(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    registration_number = models.CharField(max_length=60, blank=True)
    account = models.OneToOneField("ledger.Account", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Settlement pays the charity for the points donated to it, each period: the
    # points x ``point_value`` (minor units of ``currency`` per point), by a Stripe
    # Connect transfer to ``stripe_account_id``.
    currency = models.CharField(max_length=3, default="EUR")
    point_value = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    stripe_account_id = models.CharField(max_length=80, blank=True)
    # The operator console's add form, once per form: a second press of its button
    # finds the charity the first one added (None for charities made otherwise).
    request_key = models.CharField(max_length=80, null=True, blank=True, unique=True)

    class Meta:
        verbose_name_plural = "charities"
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(point_value__gte=0), name="charity_point_value_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Donation(models.Model):
    # Indexed by ``donation_charity`` (charity, created at), which serves lookups by
    # charity alone too: no index of its own.
    charity = models.ForeignKey(
        Charity, on_delete=models.PROTECT, related_name="donations", db_index=False
    )
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    points = models.PositiveIntegerField()
    ledger_transaction_id = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["charity", "created_at"], name="donation_charity")
        ]

    def __str__(self) -> str:
        return f"{self.points} to {self.charity_id}"
