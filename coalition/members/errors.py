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
