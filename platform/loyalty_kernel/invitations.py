"""Invitation links and the addresses they go to: one implementation for the
invitations of partner staff (``tenants.staff``) and of operator staff
(``coalition.operators``).

A link carries a random token that works once; only the token's SHA-256 is
stored, so a copy of the database opens no invitation. Addresses are kept
stripped and lowercase, the way users' names are stored.

It owns what the two kinds share: the invitation's columns (``InvitationRecord``,
abstract: each app keeps its own table and role choices), issuing one in place of
the address's pending one, finding an open one by its token, and withdrawing.
Each app audits in its own transaction around these and raises its own typed
errors. The account an invitation opens is ``loyalty_kernel.accounts``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models

from loyalty_kernel.errors import DomainError

EMAIL_FORMAT = "Enter an e-mail address in the right format, like name@example.com"
INVITATION_LIFETIME = timedelta(days=7)


class InvitationRecord(models.Model):
    """A single-use, expiring invitation to an address; only the token's SHA-256 is
    stored. Pending while neither accepted nor revoked."""

    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


Invitation = TypeVar("Invitation", bound=InvitationRecord)


def invitation_token() -> str:
    """A new token for a link: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token, and how a presented one is looked up."""
    return hashlib.sha256((token or "").encode()).hexdigest()


def email_cleaned(email: str, *, error: type[DomainError]) -> str:
    """The address stripped and lowercase, or ``error`` (the caller's typed error)
    naming the field ``email`` when it is not an address."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise error(EMAIL_FORMAT, field="email") from None
    return email


def invitation_issue(
    pending: models.QuerySet[Invitation], *, acting_user: Any, now: datetime, **fields: Any
) -> tuple[Invitation, str]:
    """A new invitation with ``fields`` and its one-time token, after withdrawing
    the pending ones among ``pending`` (the same address's): only the newest link
    works. Call it inside the caller's transaction, which audits it."""
    token = invitation_token()
    invitations_revoke(pending, now=now)
    invitation = pending.model._default_manager.create(
        token_hash=token_hash(token),
        invited_by=acting_user if getattr(acting_user, "pk", None) else None,
        expires_at=now + INVITATION_LIFETIME,
        **fields,
    )
    return invitation, token


def invitation_open(
    invitations: models.QuerySet[Invitation], *, token: str, now: datetime
) -> Invitation | None:
    """The invitation of ``invitations`` the token opens, if it can still be
    accepted (neither used, withdrawn nor expired); ``None`` otherwise."""
    invitation = invitations.filter(token_hash=token_hash(token)).first()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        return None
    return invitation


def invitations_revoke(invitations: models.QuerySet[Any], *, now: datetime) -> int:
    """Withdraw the pending ones of ``invitations``; how many were pending."""
    return invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=now
    )
