"""Reads of a partner's rewards for its staff (console and partner API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from tenants.rewards.models import Reward, VoucherStatus

# A reward's state at a moment, in the order the console lists them as filters.
REWARD_STATES = ("active", "not_yet_valid", "expired", "out_of_stock", "retired")


@dataclass(frozen=True)
class RewardSummary:
    reward: Reward
    state: str  # one of REWARD_STATES
    vouchers_issued: int  # vouchers not cancelled (used or still to use)


def reward_state_at(reward: Reward, now: datetime) -> str:
    """Retired first, then validity, then stock: what stops a member redeeming it."""
    if not reward.is_active:
        return "retired"
    if reward.valid_from is not None and reward.valid_from > now:
        return "not_yet_valid"
    if reward.valid_until is not None and reward.valid_until <= now:
        return "expired"
    if reward.stock is not None and reward.stock <= 0:
        return "out_of_stock"
    return "active"


def _state_q(state: str, now: datetime) -> Q:
    live = Q(is_active=True)
    started = Q(valid_from__isnull=True) | Q(valid_from__lte=now)
    not_over = Q(valid_until__isnull=True) | Q(valid_until__gt=now)
    in_stock = Q(stock__isnull=True) | Q(stock__gt=0)
    return {
        "retired": Q(is_active=False),
        "not_yet_valid": live & Q(valid_from__gt=now),
        "expired": live & started & Q(valid_until__lte=now),
        "out_of_stock": live & started & not_over & Q(stock__lte=0),
        "active": live & started & not_over & in_stock,
    }[state]


def reward_summaries(
    *,
    now: datetime,
    state: str = "",
    category: str = "",
    search: str = "",
    before_id: int | None = None,
    limit: int | None = None,
) -> list[RewardSummary]:
    """Rewards newest first (ids below ``before_id`` for the next page), each with its
    state at ``now`` and the vouchers issued for it (one query for all)."""
    rows = Reward.objects.order_by("-id").annotate(
        issued=Count("vouchers", filter=~Q(vouchers__status=VoucherStatus.CANCELLED))
    )
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    if state in REWARD_STATES:
        rows = rows.filter(_state_q(state, now))
    if category:
        rows = rows.filter(category__iexact=category.strip())
    if search:
        rows = rows.filter(Q(name__icontains=search.strip()) | Q(code__icontains=search.strip()))
    rewards = list(rows[:limit] if limit is not None else rows)
    return [RewardSummary(r, reward_state_at(r, now), int(r.issued)) for r in rewards]


def reward_by_code(code: str) -> Reward | None:
    return Reward.objects.filter(code=code).first()


def reward_categories() -> list[str]:
    """The categories in use, for the filter."""
    return sorted(
        set(Reward.objects.exclude(category="").values_list("category", flat=True).distinct())
    )
