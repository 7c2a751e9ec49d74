"""Typed errors of the charity app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class UnknownCharity(DomainError):
    code = "unknown_charity"
    field = "charity"


class CharityNotActive(DomainError):
    code = "charity_not_active"
    field = "charity"


class InvalidCharity(DomainError):
    code = "invalid_charity"
    field = "charity"


class CharitySlugTaken(DomainError):
    code = "charity_slug_taken"
    field = "slug"
