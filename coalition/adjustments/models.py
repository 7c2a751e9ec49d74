"""Points adjustments by partners (public schema): who adjusted which member's
points, by how much, why, and on which partner-local day (the daily cap counts
per day)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class Adjustment(models.Model):
    """One goodwill or correcting adjustment: ``points`` > 0 added, < 0 taken back,
    posted as one ledger transaction (``adjustment_credit`` or ``adjustment_debit``)."""

    # Indexed by ``adjustment_partner_day`` (partner, local day), which serves
    # lookups by partner alone too: no index of its own.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    actor_label = models.CharField(max_length=254)
    # The partner's calendar day (in its time zone) the cap counts it on.
    local_day = models.DateField()
    ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, related_name="+"
    )
    balance_after = models.BigIntegerField()
    idempotency_scope = models.CharField(max_length=80, null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-id"]
        indexes: ClassVar = [
            models.Index(fields=["partner", "local_day"], name="adjustment_partner_day"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~models.Q(points=0), name="adjustment_points_not_zero"
            ),
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="adjustment_idempotency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points:+} for member {self.member_id} by partner {self.partner_id}"
