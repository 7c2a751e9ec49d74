"""Reads of a partner's rewards for its staff (console and partner API): the
rewards with their state, and at the till what a voucher code names and whether it
can be used now, what paying an amount with points would take from a member, and
the points payments still waiting to be captured. The rules the till shows come
from here, so a page never decides by itself whether a voucher is expired or a
member has points enough."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.models import Hold, HoldStatus
from coalition.members.errors import MemberNotActive
from coalition.members.models import Member
from coalition.members.selectors import masked_email
from loyalty_kernel.tenancy import current_tenant
from tenants.rewards.models import (
    PointsPayment,
    PointsPaymentSettings,
    PointsPaymentStatus,
    Reward,
    Voucher,
    VoucherStatus,
)
from tenants.rewards.services import normalise_voucher_code, payment_points

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


# What a voucher is at the till: it can be used, or why not.
VOUCHER_ISSUED = "issued"
VOUCHER_USED = "used"
VOUCHER_CANCELLED = "cancelled"
VOUCHER_EXPIRED = "expired"


@dataclass(frozen=True)
class TillVoucher:
    voucher: Voucher
    state: str
    member_number: str
    member_email: str  # in part, as staff may see it

    @property
    def usable(self) -> bool:
        return self.state == VOUCHER_ISSUED


def voucher_state(voucher: Voucher, now: datetime) -> str:
    if voucher.status == VoucherStatus.CONSUMED:
        return VOUCHER_USED
    if voucher.status == VoucherStatus.CANCELLED:
        return VOUCHER_CANCELLED
    if voucher.expires_at <= now:
        return VOUCHER_EXPIRED
    return VOUCHER_ISSUED


def voucher_at_till(code: str, *, now: datetime) -> TillVoucher | None:
    """The voucher this partner issued under ``code`` (typed as the member reads it:
    any case, with dashes or spaces, O for 0), whatever its state; None when the code
    is malformed or names no voucher of this partner."""
    normalised = normalise_voucher_code(code)
    if normalised is None:
        return None
    voucher = Voucher.objects.select_related("reward", "member").filter(code=normalised).first()
    if voucher is None:
        return None
    return TillVoucher(
        voucher=voucher,
        state=voucher_state(voucher, now),
        member_number=voucher.member.member_number,
        member_email=masked_email(voucher.member),
    )


@dataclass(frozen=True)
class PaymentQuote:
    """What paying ``amount`` (minor units) with points would take, before it is
    authorised: the value per point, the points, the member's balance."""

    member: Member
    amount: int
    currency: str
    value_per_point: Decimal
    points: int
    balance: int

    @property
    def enough(self) -> bool:
        return self.balance >= self.points

    @property
    def balance_after(self) -> int:
        return self.balance - self.points


def payment_quote(*, member: Member, amount: int) -> PaymentQuote:
    """The quote ``points_payment_authorize`` would act on now; the typed reason
    when it would refuse for the amount or the member (not configured, amount not
    positive, below the minimum, member not active)."""
    settings_row, points = payment_points(amount)
    if not member.is_active:
        raise MemberNotActive(f"the member is {member.status}")
    return PaymentQuote(
        member=member,
        amount=amount,
        currency=settings_row.currency,
        value_per_point=Decimal(settings_row.value_per_point),
        points=points,
        balance=ledger_selectors.balance(member.pk),
    )


@dataclass(frozen=True)
class OpenPayment:
    payment: PointsPayment
    member_number: str
    expires_at: datetime


def _with_hold_expiry(now: datetime) -> QuerySet[PointsPayment]:
    """Authorised payments whose hold is still pending and in time, each with its
    hold's expiry (the hold lives in the coalition's ledger, in the public schema)."""
    hold = Hold.objects.filter(pk=OuterRef("hold_id"), status=HoldStatus.PENDING)
    return (
        PointsPayment.objects.filter(status=PointsPaymentStatus.AUTHORIZED)
        .annotate(hold_expires_at=Subquery(hold.values("expires_at")[:1]))
        .filter(hold_expires_at__gt=now)
        .select_related("member")
    )


def _open(payment: PointsPayment) -> OpenPayment:
    return OpenPayment(
        payment=payment,
        member_number=payment.member.member_number,
        expires_at=payment.hold_expires_at,  # type: ignore[attr-defined]
    )


def open_payments(*, now: datetime, limit: int = 200) -> list[OpenPayment]:
    """This partner's points payments authorised and not yet captured, voided or
    expired, the soonest to expire first (at most ``limit``)."""
    rows = _with_hold_expiry(now).order_by(F("hold_expires_at"), "pk")[:limit]
    return [_open(payment) for payment in rows]


def open_payment(payment_id: int, *, now: datetime) -> OpenPayment | None:
    """One payment of this partner, if it can still be captured or voided."""
    payment = _with_hold_expiry(now).filter(pk=payment_id).first()
    return None if payment is None else _open(payment)


def payment_currency() -> str:
    """The currency the till takes points payments in: the published settings',
    or this partner's own before any value per point is published."""
    settings_row = PointsPaymentSettings.objects.order_by("id").first()
    return settings_row.currency if settings_row else current_tenant().default_currency
