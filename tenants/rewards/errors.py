"""Typed errors of the rewards app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class RewardError(DomainError):
    code = "reward_error"


class UnknownReward(RewardError):
    code = "unknown_reward"
    field = "reward"


class RewardUnavailable(RewardError):
    code = "reward_unavailable"
    field = "reward"


class RewardOutOfStock(RewardError):
    code = "out_of_stock"
    field = "reward"


class MemberLimitReached(RewardError):
    code = "member_limit_reached"
    field = "reward"


class InvalidReward(RewardError):
    code = "invalid_reward"


class RewardCodeTaken(RewardError):
    code = "reward_code_taken"
    field = "code"


class UnknownVoucher(RewardError):
    code = "unknown_voucher"
    field = "code"


class VoucherAlreadyUsed(RewardError):
    code = "voucher_already_used"
    field = "code"


class VoucherExpired(RewardError):
    code = "voucher_expired"
    field = "code"


class VoucherCancelled(RewardError):
    code = "voucher_cancelled"
    field = "code"


class PaymentsNotConfigured(RewardError):
    code = "points_payments_not_configured"


class InvalidPointValue(RewardError):
    code = "invalid_point_value"
    field = "value_per_point"


class PointsBelowMinimum(RewardError):
    code = "points_below_minimum"
    field = "points"


class UnknownPayment(RewardError):
    code = "unknown_payment"
    field = "payment"


class InvalidAmount(RewardError):
    code = "invalid_amount"
    field = "amount"
