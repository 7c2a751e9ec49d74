"""Typed errors of the tier programme: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class TierError(DomainError):
    code = "tier_error"


class TierLevelInvalid(TierError):
    """A level's code, name or threshold is not acceptable (the message says which)."""

    code = "tier_level_invalid"
    field = "name"


class TierLevelCodeTaken(TierError):
    code = "tier_level_code_taken"
    field = "code"


class TierThresholdNotIncreasing(TierError):
    """Each level needs more qualifying points than the one below it, or members
    could never tell which level their points earn."""

    code = "tier_threshold_not_increasing"
    field = "threshold_points"


class TierLevelsChangedMeanwhile(TierError):
    """Two operators added a level at the same moment: the database allowed one."""

    code = "tier_levels_changed_meanwhile"


class UnknownTierLevel(TierError):
    code = "unknown_tier_level"
    field = "code"


class TierPolicyInvalid(TierError):
    code = "tier_policy_invalid"
    field = "grace_days"
