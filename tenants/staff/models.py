"""Staff memberships, invitations and log-in attempts (public schema)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from loyalty_kernel.invitations import InvitationRecord


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    CASHIER = "cashier", "Cashier"
    ANALYST = "analyst", "Analyst"


class StaffMembership(models.Model):
    # Indexed by ``staff_one_role_per_partner`` (user, partner), which serves lookups
    # by user alone too: no index of its own.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_memberships",
        db_index=False,
    )  # fmt: skip
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="staff_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "partner"], name="staff_one_role_per_partner"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="staff_role_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) at {self.partner_id}"


class StaffInvitation(InvitationRecord):
    """A single-use, expiring invitation to work at a partner in a role."""

    # Indexed by the (partner, email) index below, which serves lookups by partner
    # alone too: no index of its own.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="staff_invitations",
        db_index=False,
    )  # fmt: skip
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta:
        indexes = [models.Index(fields=["partner", "email"])]

    def __str__(self) -> str:
        return f"invitation of {self.email} as {self.role}"


class LoginAttempt(models.Model):
    """Failed log-ins per partner and address, for throttling and lock-out; with no
    partner, a failed log-in to the operator console (public host)."""

    # Indexed by the (partner, email, at) index below, which serves lookups by
    # partner alone too: no index of its own.
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        db_index=False,
    )  # fmt: skip
    email = models.CharField(max_length=254)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["partner", "email", "at"])]

    def __str__(self) -> str:
        return f"failed log-in of {self.email} at {self.at:%Y-%m-%d %H:%M}"
