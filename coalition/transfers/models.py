"""Households, transfer caps and the transfer audit trail (public schema)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class TransferKind(models.TextChoices):
    TRANSFER = "transfer", "Member to member"
    HOUSEHOLD = "household", "Household pooling"


class TransferCap(models.Model):
    """Points a member may send per calendar year, by kind and tier (an empty tier
    is the default for members without a tier or without a specific row)."""

    kind = models.CharField(max_length=10, choices=TransferKind.choices)
    tier_code = models.CharField(max_length=20, blank=True)
    yearly_points = models.PositiveIntegerField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["kind", "tier_code"], name="one_cap_per_kind_and_tier"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.tier_code or 'default'}: {self.yearly_points}"


class Household(models.Model):
    name = models.CharField(max_length=120)
    # Empty once the household has ended (its head left last): pooling records
    # keep pointing at it, and its head may start another.
    head = models.OneToOneField(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class HouseholdMembership(models.Model):
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="memberships")
    member = models.OneToOneField(
        "members.Member", on_delete=models.PROTECT, related_name="household_membership"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.member_id} in {self.household_id}"


class TransferRecord(models.Model):
    """Audit trail: every transfer and pooling, who, to whom, how much, when."""

    kind = models.CharField(max_length=10, choices=TransferKind.choices)
    # Indexed by ``transfer_sender_year`` (sender, kind, year), which serves lookups
    # by sender alone too: no index of its own.
    from_member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    to_member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.PROTECT)
    points = models.PositiveIntegerField()
    year = models.PositiveIntegerField()
    ledger_transaction_id = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["from_member", "kind", "year"], name="transfer_sender_year"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points}: {self.from_member_id}->{self.to_member_id}"


class HouseholdInvite(models.Model):
    """An invitation to join a household, sent to an e-mail address. Whoever signs
    in to the portal with that address may accept it once, before it expires; the
    invitation says nothing to the head about whether the address is enrolled."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField()
    invited_by = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["email"], name="household_invite_email")]

    def __str__(self) -> str:
        return f"invite to {self.household_id} for {self.email}"
