"""Typed errors of the tier programme: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class TierError(DomainError):
    code = "tier_error"
