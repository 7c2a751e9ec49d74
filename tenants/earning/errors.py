"""Typed errors of the earning app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class EarningError(DomainError):
    code = "earning_error"


class InvalidBasket(EarningError):
    code = "invalid_basket"


class UnsupportedCurrency(EarningError):
    code = "unsupported_currency"
    field = "currency"


class InvalidRule(EarningError):
    code = "invalid_rule"
    field = "rule"


class VersionNotDraft(DomainError):
    code = "version_published"
    field = "version"


class InvalidEffectiveDate(DomainError):
    code = "invalid_effective_from"
    field = "effective_from"


class BehaviourNotConfigured(DomainError):
    code = "behaviour_not_configured"
    field = "event"


class AwardLimitReached(DomainError):
    code = "award_limit_reached"
    field = "event"


class NotBirthday(DomainError):
    code = "not_birthday"
    field = "event"


class UnknownRuleVersion(DomainError):
    code = "unknown_rule_version"
    field = "version"


class UnknownCampaign(DomainError):
    code = "unknown_campaign"
    field = "campaign"


class CampaignEnded(DomainError):
    """An ended campaign (by staff, or past its end) cannot pause or resume."""

    code = "campaign_ended"
    field = "campaign"
