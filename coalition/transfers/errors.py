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


class UnknownRecipient(DomainError):
    """The same answer for an unknown, blocked or erased recipient: the sender learns
    only that no member can receive points there."""

    code = "unknown_recipient"
    field = "recipient"


class RecipientLookupsThrottled(DomainError):
    """Too many recipients that could not receive points in the last hour: stops a
    member testing addresses to learn who is enrolled."""

    code = "recipient_lookups_throttled"
    field = "recipient"


class NotHouseholdHead(HouseholdError):
    code = "not_household_head"


class HeadCannotLeave(HouseholdError):
    code = "household_head_cannot_leave"


class HouseholdInviteInvalid(HouseholdError):
    code = "household_invite_invalid"
    field = "invite"


class TransferCapInvalid(DomainError):
    code = "transfer_cap_invalid"
    field = "yearly_points"
