"""Typed errors of the staff app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class InvalidStaffData(DomainError):
    code = "invalid_staff_data"


class StaffAlreadyMember(DomainError):
    code = "staff_already_member"
    field = "email"


class InvitationInvalid(DomainError):
    """Unknown, already used, revoked or expired: the link cannot be used."""

    code = "invitation_invalid"


class LoginFailed(DomainError):
    code = "login_failed"


class LoginLockedOut(DomainError):
    code = "login_locked_out"


class LastOwner(DomainError):
    """A partner always keeps at least one owner."""

    code = "last_owner"


class TwoFactorCodeWrong(DomainError):
    """A wrong, reused or throttled two-step code."""

    code = "two_factor_code_wrong"
    field = "code"


class TwoFactorNotOn(DomainError):
    code = "two_factor_not_on"
    field = "code"


class TwoFactorAlreadyOn(DomainError):
    code = "two_factor_already_on"
