"""Typed errors of the transfers app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class TransferCapExceeded(DomainError):
    code = "transfer_cap_exceeded"
    field = "points"


class HouseholdError(DomainError):
    code = "household_error"
    field = "household"


class NotInHousehold(HouseholdError):
    code = "not_in_household"


class AlreadyInHousehold(HouseholdError):
    code = "already_in_household"


class HouseholdFull(HouseholdError):
    code = "household_full"
