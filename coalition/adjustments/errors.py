"""Typed errors of points adjustments: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class AdjustmentError(DomainError):
    code = "adjustment_error"
    field = "points"


class AdjustmentPointsInvalid(AdjustmentError):
    """Zero points: an adjustment adds (positive) or takes back (negative)."""

    code = "adjustment_points_invalid"


class AdjustmentReasonMissing(AdjustmentError):
    code = "adjustment_reason_missing"
    field = "reason"


class AdjustmentCapReached(AdjustmentError):
    """The partner's adjustments today would pass its daily cap: nothing posted."""

    code = "adjustment_cap_reached"


class AdjustmentExceedsBalance(AdjustmentError):
    """A debit of more points than the member holds in lots the adjusting partner
    issued: a partner takes back only its own points, and a wallet never goes below
    zero."""

    code = "adjustment_exceeds_balance"


class AdjustmentReasonTooLong(AdjustmentError):
    code = "adjustment_reason_too_long"
    field = "reason"
