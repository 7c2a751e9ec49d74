"""Reading the coalition rules in force: the row, or the settings' defaults where
no operator has set them yet (a fresh install behaves as configured)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from coalition.rules.models import CoalitionRules

DEFAULT_ADJUSTMENT_DAILY_CAP = 10_000
DEFAULT_GOODWILL_APPROVAL_THRESHOLD = 1_000


@dataclass(frozen=True)
class Rules:
    adjustment_daily_cap: int
    goodwill_approval_threshold: int
    changed_at: datetime | None = None
    changed_by: str = ""
    reason: str = ""


def default_rules() -> Rules:
    """What applies before an operator sets the rules: settings
    ``LOYALTY_ADJUSTMENT_DAILY_CAP`` and ``LOYALTY_GOODWILL_APPROVAL_THRESHOLD``."""
    return Rules(
        adjustment_daily_cap=int(
            getattr(settings, "LOYALTY_ADJUSTMENT_DAILY_CAP", DEFAULT_ADJUSTMENT_DAILY_CAP)
        ),
        goodwill_approval_threshold=int(
            getattr(
                settings,
                "LOYALTY_GOODWILL_APPROVAL_THRESHOLD",
                DEFAULT_GOODWILL_APPROVAL_THRESHOLD,
            )
        ),
    )


def coalition_rules() -> Rules:
    """The rules in force (one indexed read of a one-row table)."""
    row = CoalitionRules.objects.first()
    if row is None:
        return default_rules()
    return Rules(
        adjustment_daily_cap=row.adjustment_daily_cap,
        goodwill_approval_threshold=row.goodwill_approval_threshold,
        changed_at=row.changed_at,
        changed_by=row.changed_by_label,
        reason=row.reason,
    )
