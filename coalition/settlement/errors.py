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


class TermsEffectiveInPast(SettlementError):
    """New terms take effect now or later: the past is priced already."""

    code = "terms_effective_in_past"
    field = "effective_from"


class TermsBeforeInForce(SettlementError):
    """New terms cannot take effect before (or with) the version in force."""

    code = "terms_before_in_force"
    field = "effective_from"


class TermsAlreadySet(SettlementError):
    """Another version already takes effect at that instant."""

    code = "terms_already_set"
    field = "effective_from"


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


class PeriodUnknown(SettlementError):
    """No settlement period has this number."""

    code = "settlement_period_unknown"


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
