"""Operator memberships and onboarding requests (public schema)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from loyalty_kernel.invitations import InvitationRecord


class OperatorRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    FINANCE = "finance", "Finance"
    SUPPORT = "support", "Support"
    READ_ONLY = "read_only", "Read-only"


class OperatorMembership(models.Model):
    """A user who works for the coalition operator, with one role."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_membership"
    )
    role = models.CharField(max_length=10, choices=OperatorRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in OperatorRole]),
                name="operator_role_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class OnboardingRequest(models.Model):
    """The idempotency key of one onboarding: a second submit of the same form
    finds the partner the first one created instead of creating another."""

    key = models.CharField(max_length=80, unique=True)
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"onboarding {self.key} -> {self.partner_id}"


class OperatorInvitation(InvitationRecord):
    """A single-use, expiring invitation to join the operator staff in a role.
    ``request_key`` makes the invite form's double submit one invitation (and one
    e-mail)."""

    role = models.CharField(max_length=10, choices=OperatorRole.choices)
    request_key = models.CharField(max_length=80, unique=True)

    class Meta:
        indexes = [models.Index(fields=["email"], name="operator_invitation_email")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in OperatorRole]),
                name="operator_invitation_role_known",
            ),
        ]

    def __str__(self) -> str:
        return f"operator invitation of {self.email} as {self.role}"
