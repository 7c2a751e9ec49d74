"""Typed errors of the partner registry; ``code`` is what API clients branch on."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class PartnerError(DomainError):
    code = "partner_error"


class InvalidPartnerData(PartnerError):
    code = "invalid_partner_data"


class PartnerSlugTaken(PartnerError):
    code = "slug_taken"
    field = "slug"


class DomainTaken(PartnerError):
    code = "domain_taken"
    field = "domain"


class InvalidStatusTransition(PartnerError):
    code = "invalid_status_transition"
    field = "status"


class PartnerDeletionRefused(PartnerError):
    code = "deletion_refused"
