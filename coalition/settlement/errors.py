"""Typed errors of the settlement app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class SettlementError(DomainError):
    code = "settlement_error"


class TermsMissing(SettlementError):
    code = "terms_missing"
    field = "terms"


class InvalidTerms(SettlementError):
    code = "invalid_terms"
    field = "terms"


class PeriodNotDue(SettlementError):
    code = "period_not_due"
    field = "period"


class MixedCurrencies(SettlementError):
    """A statement has one currency: a partner's terms cannot change it."""

    code = "mixed_currencies"
    field = "currency"


class StripeNotConfigured(DomainError):
    code = "stripe_not_configured"


class PartnerNotOnboarded(DomainError):
    code = "partner_not_onboarded"
    field = "partner"
