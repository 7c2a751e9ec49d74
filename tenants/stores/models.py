"""Stores of one partner; lives in the partner's own schema."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class StoreChannel(models.TextChoices):
    POS = "pos", "Point of sale"
    ONLINE = "online", "Online shop"
    APP = "app", "Mobile app"


class Store(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=StoreChannel.choices, default="pos")
    time_zone = models.CharField(max_length=64, default="UTC")
    city = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["code"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(channel__in=StoreChannel.values), name="store_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
