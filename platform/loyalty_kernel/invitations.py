"""Invitation links and the addresses they go to: one implementation for the
invitations of partner staff (``tenants.staff``) and of operator staff
(``coalition.operators``).

A link carries a random token that works once; only the token's SHA-256 is
stored, so a copy of the database opens no invitation. Addresses are kept
stripped and lowercase, the way users' names are stored.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from loyalty_kernel.errors import DomainError

EMAIL_FORMAT = "Enter an e-mail address in the right format, like name@example.com"


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
