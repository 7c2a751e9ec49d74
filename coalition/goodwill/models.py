"""Coalition goodwill proposals (public schema): points the coalition gives a
member, proposed by one operator and, above the approval threshold, approved or
rejected by another (four eyes)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models


class GoodwillStatus(models.TextChoices):
    PROPOSED = "proposed", "Waiting for approval"
    POSTED = "posted", "Given"
    REJECTED = "rejected", "Rejected"
    # Stored when a decision finds the proposal past ``expires_at``; a proposal
    # still ``proposed`` after it reads as expired anyway (``selectors``).
    EXPIRED = "expired", "Expired"


class GoodwillProposal(models.Model):
    # Indexed by ``goodwill_member`` (member, newest first), which serves lookups by
    # member alone too: no index of its own.
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    points = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=GoodwillStatus.choices, default=GoodwillStatus.PROPOSED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # Whether it needed a second operator (above the threshold when proposed).
    needs_approval = models.BooleanField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    decided_by_label = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=200, blank=True)
    ledger_transaction = models.OneToOneField(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The proposing form's one-time key: a second submit finds this proposal.
    request_key = models.CharField(max_length=80, unique=True)
    request_hash = models.CharField(max_length=64)

    class Meta:
        ordering: ClassVar = ["-id"]
        indexes: ClassVar = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="proposed"),
                name="goodwill_pending",
            ),
            models.Index(fields=["member", "-id"], name="goodwill_member"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(points__gt=0), name="goodwill_points_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=GoodwillStatus.values), name="goodwill_status_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="posted") | models.Q(ledger_transaction__isnull=False),
                name="goodwill_posted_has_transaction",
            ),
        ]

    def __str__(self) -> str:
        return f"goodwill#{self.pk} {self.points} for member {self.member_id} ({self.status})"
