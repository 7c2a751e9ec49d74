"""Typed errors of member sign-in; ``code`` is what API clients branch on."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class MemberSignInError(DomainError):
    code = "member_sign_in_error"


class SignInThrottled(MemberSignInError):
    """Too many sign-in requests for this address or from this network."""

    code = "sign_in_throttled"
    field = "email"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class InvalidSignInCode(MemberSignInError):
    code = "invalid_sign_in_code"
    field = "code"


class SignInLocked(MemberSignInError):
    code = "sign_in_locked"
    field = "code"


class InvalidSignInLink(MemberSignInError):
    code = "invalid_sign_in_link"
