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


class CloseReasonMissing(SettlementError):
    """Closing a period before it is due is allowed only with a recorded reason."""

    code = "close_reason_missing"
    field = "reason"


class CharityNotOnboarded(DomainError):
    code = "charity_not_onboarded"
    field = "charity"


class PayoutRefused(DomainError):
    """Stripe refused a payout call; ``stripe_code`` is Stripe's own error code."""

    code = "stripe_error"
    field = "payouts"

    def __init__(self, message: str, *, stripe_code: str = "", field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.stripe_code = stripe_code


class UnknownStatement(SettlementError):
    code = "statement_unknown"
    field = "statement"


class PayoutNotFailed(SettlementError):
    """Only a payout Stripe refused can be retried by hand: a paid, invoiced or
    pending one has nothing to retry (a pending one goes with its period)."""

    code = "payout_not_failed"
    field = "statement"


class PeriodNotClosed(SettlementError):
    """A period's statements exist, and can be paid, once it is closed."""

    code = "payout_period_not_closed"
    field = "period"
