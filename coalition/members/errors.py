"""Typed errors of membership; ``code`` is what API clients branch on."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class MemberError(DomainError):
    code = "member_error"


class InvalidMemberData(MemberError):
    code = "invalid_member_data"


class EmailAlreadyEnrolled(MemberError):
    code = "email_taken"
    field = "email"


class PhoneAlreadyUsed(MemberError):
    code = "phone_taken"
    field = "phone"


class CardAlreadyUsed(MemberError):
    code = "card_taken"
    field = "card_number"


class UnknownMember(MemberError):
    code = "unknown_member"
    field = "member"


class MemberNotActive(MemberError):
    code = "member_not_active"
    field = "member"


class PrivacyLinkInvalid(MemberError):
    """The e-mailed link is unknown, used, expired, for another request or for
    another member: one answer for all of them."""

    code = "privacy_link_invalid"
    field = "token"


class MemberSupportReasonMissing(MemberError):
    """Blocking, unblocking or erasing a member from the operator console needs a
    reason (kept in the audit log), at most 500 characters."""

    code = "member_support_reason_missing"
    field = "reason"


class ErasureNotConfirmed(MemberError):
    """The operator did not type the member's number to confirm an erasure."""

    code = "member_erasure_not_confirmed"
    field = "confirmation"
