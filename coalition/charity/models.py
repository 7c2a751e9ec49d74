"""Charities and the donations made to them (public schema)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class Charity(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    registration_number = models.CharField(max_length=60, blank=True)
    account = models.OneToOneField("ledger.Account", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "charities"
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


class Donation(models.Model):
    charity = models.ForeignKey(Charity, on_delete=models.PROTECT, related_name="donations")
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
