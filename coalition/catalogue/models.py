"""One row per partner reward (public schema)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class CatalogueEntry(models.Model):
    # Indexed by ``catalogue_entry_once`` (partner, reward id), which serves lookups
    # by partner alone too: no index of its own.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reward_id = models.BigIntegerField()  # id in the partner's schema
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=120)
    points_price = models.PositiveIntegerField()
    in_stock = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    channels = models.JSONField(default=list, blank=True)
    category = models.CharField(max_length=60, blank=True)
    # False: the partner keeps the reward for its own tills and apps, out of the catalogue.
    in_catalogue = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["points_price", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["partner", "reward_id"], name="catalogue_entry_once"),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["points_price", "id"],
                condition=models.Q(is_active=True, in_stock=True),
                name="catalogue_available",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.code}"
