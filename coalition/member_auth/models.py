"""A member's session generation (public schema)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class MemberSessionGeneration(models.Model):
    """Sessions remember the generation they started in; "sign out everywhere" adds
    one, so every session started before it is refused. No row means generation 0."""

    member = models.OneToOneField(
        "members.Member", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    generation = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.member_id}: {self.generation}"


class MemberSignInAttempt(models.Model):
    """One request to sign in: a six-digit code, a link token and a challenge id (for
    member apps), all stored hashed, single use, expiring. A row is kept for unknown
    addresses too (with no member), so throttling and answers are the same whether
    or not the address exists."""

    email = models.CharField(max_length=254)  # lower-case
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    code_hash = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    # What a member app names the attempt by when it sends the code (hashed; none
    # on attempts made before apps could sign in).
    challenge_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    wrong_codes = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["email", "created_at"], name="signin_email_at"),
            models.Index(fields=["ip", "created_at"], name="signin_ip_at"),
        ]

    def __str__(self) -> str:
        return f"{self.email} at {self.created_at}"
