"""Members and their card aliases (public schema)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models.functions import Lower


class MemberStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"
    ERASED = "erased", "Erased"


class Member(models.Model):
    member_number = models.CharField(max_length=10, unique=True)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=20, null=True, blank=True, unique=True)
    birth_date = models.DateField(null=True, blank=True)  # for birthday points only
    # ISO 3166 alpha-2: decides the expiry rules that apply (see coalition.expiry).
    country = models.CharField(max_length=2, blank=True, default="", db_default="")
    status = models.CharField(
        max_length=8, choices=MemberStatus.choices, default=MemberStatus.ACTIVE
    )
    marketing_email_consent = models.BooleanField(default=False)
    marketing_sms_consent = models.BooleanField(default=False)
    data_sharing_consent = models.BooleanField(default=False)
    consent_updated_at = models.DateTimeField(null=True, blank=True)
    # Indexed by ``member_enrolled_by_at`` (partner, enrolled at), which serves
    # lookups by partner alone too: no index of its own.
    enrolled_by = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    # Idempotency of enrolment: a repeat with the same key returns this member.
    enrol_scope = models.CharField(max_length=80, null=True, blank=True)
    enrol_key = models.CharField(max_length=120, null=True, blank=True)
    enrol_request_hash = models.CharField(max_length=64, blank=True)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("email"), name="member_email_ci_unique"),
            models.UniqueConstraint(
                fields=["enrol_scope", "enrol_key"], name="member_enrol_idempotency"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=MemberStatus.values), name="member_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(member_number__regex=r"^[0-9]{10}$"),
                name="member_number_format",
            ),
        ]
        indexes: ClassVar = [
            # Enrolments per partner and day, for the console dashboard.
            models.Index(fields=["enrolled_by", "enrolled_at"], name="member_enrolled_by_at"),
        ]

    def __str__(self) -> str:
        return self.member_number

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE


class MemberCard(models.Model):
    """A card (or app token) number that identifies a member at a till."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="cards")
    card_number = models.CharField(max_length=32, unique=True)
    issued_by = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.card_number


class MemberChange(models.Model):
    """A change a member made to their own profile, one row per field: which field,
    what it became for a consent ("granted"/"withdrawn"), "changed" or "removed" for
    a contact detail (whose value is not copied here: erasure has one place to wipe),
    when and where."""

    # Indexed by ``member_change_recent`` (member, newest first), which serves
    # lookups by member alone too: no index of its own.
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="changes", db_index=False
    )
    field = models.CharField(max_length=40)
    change = models.CharField(max_length=20)
    channel = models.CharField(max_length=20)
    changed_at = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["member", "-changed_at"], name="member_change_recent")
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.field} {self.change}"


class PrivacyRequestKind(models.TextChoices):
    EXPORT = "export", "Download my data"
    ERASE = "erase", "Erase my account"


class MemberPrivacyRequest(models.Model):
    """A request to download or erase, confirmed by a link e-mailed to the member:
    the token is stored hashed, works once, for the member who asked, until it
    expires."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=PrivacyRequestKind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} for {self.member_id}"
