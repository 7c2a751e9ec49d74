"""Typed errors of the partner registry; ``code`` is what API clients branch on."""

from __future__ import annotations


class PartnerError(Exception):
    code = "partner_error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class InvalidPartnerData(PartnerError):
    code = "invalid"


class PartnerSlugTaken(PartnerError):
    code = "slug_taken"
    field = "slug"


class DomainTaken(PartnerError):
    code = "domain_taken"
    field = "domain"


class InvalidStatusTransition(PartnerError):
    code = "invalid_status_transition"
    field = "status"


class PartnerNotFound(PartnerError):
    code = "not_found"


class PartnerDeletionRefused(PartnerError):
    code = "deletion_refused"
