"""Typed errors of operator staff; each code is unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class InvalidOperatorData(DomainError):
    code = "invalid_operator_data"


class OperatorAlreadyMember(DomainError):
    code = "operator_already_member"
    field = "email"


class OperatorNotFound(DomainError):
    code = "operator_not_found"


class LastOperatorAdmin(DomainError):
    """The coalition always keeps at least one operator admin."""

    code = "last_operator_admin"


class OperatorLoginFailed(DomainError):
    code = "operator_login_failed"


class StatusReasonMissing(DomainError):
    """Suspending, offboarding or reactivating a partner needs a reason."""

    code = "status_reason_missing"
    field = "reason"


class OperatorInvitationInvalid(DomainError):
    """Unknown, already used, withdrawn or expired: the link cannot be used."""

    code = "operator_invitation_invalid"


class OperatorRemoveSelf(DomainError):
    """An operator cannot take away their own access: another admin does it."""

    code = "operator_remove_self"
