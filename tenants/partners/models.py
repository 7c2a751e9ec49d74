"""Partner tenants and their host names (public schema)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from loyalty_kernel.money import CURRENCY_CHOICES

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,40}[a-z0-9]$"


class PartnerStatus(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    OFFBOARDED = "offboarded", "Offboarded"


# Allowed lifecycle moves. Offboarded is final: the schema and all ledger
# history stay, the partner just can no longer earn, burn or settle anew.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    PartnerStatus.ONBOARDING: frozenset({PartnerStatus.ACTIVE, PartnerStatus.OFFBOARDED}),
    PartnerStatus.ACTIVE: frozenset({PartnerStatus.SUSPENDED, PartnerStatus.OFFBOARDED}),
    PartnerStatus.SUSPENDED: frozenset({PartnerStatus.ACTIVE, PartnerStatus.OFFBOARDED}),
    PartnerStatus.OFFBOARDED: frozenset(),
}


class Partner(TenantMixin):
    """A partner business of the coalition, with its own PostgreSQL schema."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=42,
        unique=True,
        validators=[RegexValidator(SLUG_PATTERN, "lowercase letters, digits and hyphens")],
    )
    status = models.CharField(
        max_length=16, choices=PartnerStatus.choices, default=PartnerStatus.ONBOARDING
    )
    default_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    time_zone = models.CharField(max_length=64, default="UTC")
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    # Connected account for payouts; filled by Stripe Connect onboarding.
    stripe_account_id = models.CharField(max_length=64, blank=True)
    # Customer for invoices when the partner owes the coalition.
    stripe_customer_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = False  # offboarding never deletes history

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(status__in=PartnerStatus.values), name="partner_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(default_currency__regex=r"^[A-Z]{3}$"),
                name="partner_currency_iso",
            ),
            models.CheckConstraint(
                condition=models.Q(slug__regex=SLUG_PATTERN), name="partner_slug_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == PartnerStatus.ACTIVE

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        from tenants.partners.errors import PartnerDeletionRefused

        raise PartnerDeletionRefused(
            "partners are never deleted, so their ledger history stays; offboard them instead"
        )


class Domain(DomainMixin):
    """A host name that routes to a partner's site (console and partner API)."""

    def __str__(self) -> str:
        return str(self.domain)


class PartnerStatusChange(models.Model):
    """Audit trail of lifecycle moves: who, when, from what, to what, why."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=PartnerStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=PartnerStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.from_status or '-'} -> {self.to_status}"
