"""Typed errors of the coalition rules: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class CoalitionRuleInvalid(DomainError):
    """A rule's value out of its range (the field names which)."""

    code = "coalition_rule_invalid"
    field = "adjustment_daily_cap"


class CoalitionRuleReasonMissing(DomainError):
    """A change of the rules with no reason, or one too long for the audit log."""

    code = "coalition_rule_reason_missing"
    field = "reason"
