"""Typed errors of the expiry policy: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class ExpiryPolicyInvalid(DomainError):
    code = "expiry_policy_invalid"
    field = "months"


class ExpiryCountryUnknown(DomainError):
    """A code in the list of inactivity-only countries that is no ISO 3166-1
    alpha-2 country: a typo there would leave that country's members under
    time-only expiry, which its law forbids."""

    code = "expiry_country_unknown"
    field = "inactivity_only_countries"
