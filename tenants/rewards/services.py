"""Rewards, vouchers and paying with points at a partner (inside its schema).

- Redeeming a reward burns its points, takes one from stock under a row lock
  (stock never goes below zero) and issues a single-use voucher with an
  unguessable code carrying a check character, valid only at this partner.
- Consuming a voucher is one conditional UPDATE: of any number of concurrent
  attempts exactly one succeeds; the others learn it was already used.
- Cancelling an unused voucher reverses the burn and puts the reward back.
- Paying with points converts money to points at this partner's published value
  per point and reserves them with a ledger hold, then captures all or part of it
  (at the value per point of the authorisation) or voids it; when the hold
  expires, the hold-expiry job marks the payment expired.

The module is longer than 500 lines because the three share the voucher and hold
rules and their row locks; split it into redeeming, vouchers and payments when a
fourth concern arrives.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any, Required, TypedDict, Unpack

from django.db import IntegrityError, transaction
from django.utils import timezone

from coalition.audit.services import audit_record
from coalition.catalogue.models import CatalogueEntry
from coalition.ledger import services as ledger
from coalition.ledger.errors import IdempotencyKeyReused, PartnerNotActive
from coalition.ledger.models import HoldStatus
from coalition.members.models import Member
from coalition.members.services import member_get_active
from coalition.webhooks import services as webhooks
from loyalty_kernel import driver_sql, jobs
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.tenancy import current_tenant
from tenants.rewards import tasks
from tenants.rewards.errors import (
    InvalidAmount,
    InvalidPointValue,
    InvalidReward,
    MemberLimitReached,
    PaymentsNotConfigured,
    PointsBelowMinimum,
    RewardCodeTaken,
    RewardError,
    RewardOutOfStock,
    RewardUnavailable,
    UnknownPayment,
    UnknownReward,
    UnknownVoucher,
    VoucherAlreadyUsed,
    VoucherCancelled,
    VoucherExpired,
)
from tenants.rewards.models import (
    PointsPayment,
    PointsPaymentSettings,
    PointsPaymentStatus,
    Reward,
    Voucher,
    VoucherStatus,
)
from tenants.stores.models import StoreChannel

# Crockford's base32: no I, L, O, U, so codes read aloud or typed survive.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_BODY_LENGTH = 12  # 60 random bits


# --- voucher codes ------------------------------------------------------------------


def check_character(body: str) -> str:
    """Luhn mod 32 over the alphabet: catches every single wrong character and
    most swaps of neighbours."""
    factor, total = 2, 0
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def new_voucher_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_BODY_LENGTH))
    return body + check_character(body)


def normalise_voucher_code(code: str) -> str | None:
    """Upper-case, drop separators, read O as 0 and I/L as 1; None if malformed."""
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if len(cleaned) != CODE_BODY_LENGTH + 1 or any(char not in ALPHABET for char in cleaned):
        return None
    if check_character(cleaned[:-1]) != cleaned[-1]:
        return None
    return cleaned


# --- rewards and the coalition catalogue ---------------------------------------------


def _partner() -> Any:
    partner = current_tenant()
    if getattr(partner, "pk", None) is None:
        raise RewardError("rewards live on a partner's site, not the public one")
    return partner


def _sync_catalogue(reward: Reward) -> None:
    """Keep the coalition-wide projection in step, in the same transaction."""
    CatalogueEntry.objects.update_or_create(
        partner_id=_partner().pk,
        reward_id=reward.pk,
        defaults={
            "code": reward.code,
            "name": reward.name,
            "points_price": reward.points_price,
            "in_stock": reward.stock is None or reward.stock > 0,
            "is_active": reward.is_active,
            "valid_from": reward.valid_from,
            "valid_until": reward.valid_until,
            "channels": reward.channels,
            "category": reward.category,
            "in_catalogue": reward.in_catalogue,
        },
    )


REWARD_CODE = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
# What a reward's settings may be; ``code`` is set once, at creation.
REWARD_FIELDS = (
    "name",
    "description",
    "category",
    "points_price",
    "stock",
    "per_member_limit",
    "valid_from",
    "valid_until",
    "channels",
    "voucher_validity_days",
    "in_catalogue",
)


class RewardSettings(TypedDict, total=False):
    """A reward's settings (``REWARD_FIELDS``) as a partner chooses them; the ones
    left out take ``REWARD_DEFAULTS``."""

    name: Required[str]
    points_price: Required[int]
    stock: int | None
    per_member_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    channels: list[str] | None
    description: str
    category: str
    in_catalogue: bool
    voucher_validity_days: int


# No limit of stock, per member or in time; every channel; in the catalogue.
REWARD_DEFAULTS: dict[str, Any] = {
    "stock": None,
    "per_member_limit": None,
    "valid_from": None,
    "valid_until": None,
    "channels": None,
    "description": "",
    "category": "",
    "in_catalogue": True,
    "voucher_validity_days": 90,
}


def reward_state(reward: Reward) -> dict[str, Any]:
    """What the audit log shows of a reward, before and after a change."""
    state = {name: getattr(reward, name) for name in ("code", *REWARD_FIELDS, "is_active")}
    state["channels"] = list(reward.channels)
    return state


def _check_reward(reward: Reward) -> None:
    """The rules every reward keeps, as typed errors naming the field."""
    if not REWARD_CODE.match(reward.code or ""):
        raise InvalidReward(
            "a reward code has 1 to 40 letters, digits, dashes or underscores", field="code"
        )
    if not reward.name.strip():
        raise InvalidReward("a reward needs a name", field="name")
    if len(reward.name) > 120:
        raise InvalidReward("a reward name has 120 characters or fewer", field="name")
    if len(reward.category) > 60:
        raise InvalidReward("a category has 60 characters or fewer", field="category")
    if reward.points_price is None or reward.points_price <= 0:
        raise InvalidReward("a reward costs at least one point", field="points_price")
    if reward.stock is not None and reward.stock < 0:
        raise InvalidReward("stock cannot be negative", field="stock")
    if reward.per_member_limit is not None and reward.per_member_limit < 1:
        raise InvalidReward(
            "a limit per member is at least 1 (leave it out for no limit)", field="per_member_limit"
        )
    if reward.voucher_validity_days is None or reward.voucher_validity_days < 1:
        raise InvalidReward(
            "a voucher is valid for at least one day", field="voucher_validity_days"
        )
    for moment, field in ((reward.valid_from, "valid_from"), (reward.valid_until, "valid_until")):
        if moment is not None and timezone.is_naive(moment):
            raise InvalidReward("a reward's validity needs a time zone", field=field)
    if reward.valid_from and reward.valid_until and reward.valid_until <= reward.valid_from:
        raise InvalidReward(
            "a reward must be valid until after it is valid from", field="valid_until"
        )
    unknown = sorted(set(reward.channels) - set(StoreChannel.values))
    if unknown:
        raise InvalidReward(
            f"unknown channel {unknown[0]!r}: use {', '.join(StoreChannel.values)}",
            field="channels",
        )


def _audit_reward(actor: Any, action: str, reward: Reward, before: dict[str, Any] | None) -> None:
    audit_record(
        actor=actor,
        partner_id=_partner().pk,
        action=action,
        target=("reward", reward.code),
        before=before,
        after=reward_state(reward),
    )


def reward_create(
    *,
    code: str,
    actor: Any = None,
    request_key: str | None = None,
    **settings: Unpack[RewardSettings],
) -> Reward:
    """A new reward, in the coalition catalogue too unless ``in_catalogue`` is False.
    With ``request_key`` (a form's or API call's idempotency key) a repeat of the
    same request returns the reward the first one made."""
    if request_key is not None:
        request_key = request_key[:80]
        earlier = Reward.objects.filter(request_key=request_key).first()
        if earlier is not None:
            return earlier
    values = {**REWARD_DEFAULTS, **settings}
    reward = Reward(code=(code or "").strip(), request_key=request_key, **values)
    # what a person typed: surrounding spaces are no part of it
    for name in ("name", "description", "category"):
        setattr(reward, name, (values[name] or "").strip())
    reward.channels = sorted(set(values["channels"] or []))
    _check_reward(reward)
    try:
        with transaction.atomic():
            if Reward.objects.filter(code=reward.code).exists():
                raise RewardCodeTaken(f"there is already a reward with the code {reward.code!r}")
            reward.save()
            _sync_catalogue(reward)
            _audit_reward(actor, "reward.create", reward, None)
    except IntegrityError:
        # The same request twice at once: the other one made it; or the code was taken.
        earlier = Reward.objects.filter(request_key=request_key).first() if request_key else None
        if earlier is not None:
            return earlier
        if Reward.objects.filter(code=reward.code).exists():
            raise RewardCodeTaken(
                f"there is already a reward with the code {reward.code!r}"
            ) from None
        raise
    return reward


def _reward_locked(code: str) -> Reward:
    reward = Reward.objects.select_for_update().filter(code=code).first()
    if reward is None:
        raise UnknownReward(f"no reward {code!r}")
    return reward


def reward_update(*, code: str, actor: Any = None, **changes: Any) -> Reward:
    """Change a reward's settings: each of ``REWARD_FIELDS`` given is set (``stock``,
    ``per_member_limit``, ``valid_from`` or ``valid_until`` given as None: no limit);
    one left out stays as it is. Its code never changes (tills and vouchers carry it)."""
    unknown = set(changes) - set(REWARD_FIELDS)
    if unknown:
        raise InvalidReward(f"cannot change {sorted(unknown)[0]}", field=sorted(unknown)[0])
    with transaction.atomic():
        reward = _reward_locked(code)
        before = reward_state(reward)
        for name, value in changes.items():
            if name in ("name", "description", "category"):
                value = (value or "").strip()
            elif name == "channels":
                value = sorted(set(value or []))
            elif name == "in_catalogue":
                value = bool(value)
            setattr(reward, name, value)
        _check_reward(reward)
        if reward_state(reward) != before:
            reward.save()
            _sync_catalogue(reward)
            _audit_reward(actor, "reward.update", reward, before)
    return reward


def _set_active(code: str, is_active: bool, actor: Any) -> Reward:
    with transaction.atomic():
        reward = _reward_locked(code)
        if reward.is_active != is_active:  # pressing twice changes nothing the second time
            before = reward_state(reward)
            reward.is_active = is_active
            reward.save(update_fields=["is_active"])
            _sync_catalogue(reward)
            _audit_reward(actor, "reward.restore" if is_active else "reward.retire", reward, before)
    return reward


def reward_retire(*, code: str, actor: Any = None) -> Reward:
    """Take a reward off sale: nobody can redeem it any more (vouchers already issued
    stay valid) and it leaves the catalogue. Its history stays; it can be restored."""
    return _set_active(code, False, actor)


def reward_restore(*, code: str, actor: Any = None) -> Reward:
    """Put a retired reward back on sale with the settings it had."""
    return _set_active(code, True, actor)


def reward_save(*, code: str, is_active: bool = True, **settings: Unpack[RewardSettings]) -> Reward:
    """Create or update a reward (by code) and its catalogue entry (seeding,
    fixtures): every setting is set, to ``REWARD_DEFAULTS`` when left out."""
    reward = Reward.objects.filter(code=code).first() or Reward(code=code)
    values = {**REWARD_DEFAULTS, **settings, "is_active": is_active}
    values["channels"] = list(values["channels"] or [])
    for name, value in values.items():
        setattr(reward, name, value)
    _check_reward(reward)
    with transaction.atomic():
        reward.save()
        _sync_catalogue(reward)
    return reward


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def reward_redeem(
    *,
    member_id: int,
    reward_code: str,
    channel: str | None = None,
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
    catalogue_only: bool = False,
) -> Voucher:
    """Burn a reward's points and issue its voucher. ``catalogue_only``: the member
    redeems by themselves from the coalition catalogue (portal, member apps), so a
    reward the partner keeps out of the catalogue is not available to them."""
    now = now or timezone.now()
    digest = _digest({"member": member_id, "reward": reward_code, "channel": channel})
    if idempotency is not None:
        existing = Voucher.objects.filter(
            idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
        ).first()
        if existing is not None:
            if existing.request_hash != digest:
                raise IdempotencyKeyReused("that idempotency key redeemed something else")
            return existing
    partner = _partner()
    if not partner.is_active:
        raise PartnerNotActive(f"partner {partner.slug} is {partner.status}")
    member = member_get_active(member_id)
    try:
        with transaction.atomic():
            reward = Reward.objects.select_for_update().filter(code=reward_code).first()
            if reward is None:
                raise UnknownReward(f"no reward {reward_code!r}")
            if not reward.is_active:
                raise RewardUnavailable(f"{reward.name} is not available")
            if catalogue_only and not reward.in_catalogue:
                raise RewardUnavailable(f"{reward.name} is not offered in the catalogue")
            if (reward.valid_from and now < reward.valid_from) or (
                reward.valid_until and now >= reward.valid_until
            ):
                raise RewardUnavailable(f"{reward.name} is not available at this time")
            if reward.channels and channel not in reward.channels:
                raise RewardUnavailable(f"{reward.name} cannot be redeemed through {channel}")
            if reward.stock is not None and reward.stock <= 0:
                raise RewardOutOfStock(f"{reward.name} is out of stock")
            if reward.per_member_limit is not None:
                taken = (
                    Voucher.objects.filter(reward=reward, member_id=member_id)
                    .exclude(status=VoucherStatus.CANCELLED)
                    .count()
                )
                if taken >= reward.per_member_limit:
                    raise MemberLimitReached(
                        f"{reward.name} can be redeemed {reward.per_member_limit} time(s) "
                        "per member"
                    )
            posting = ledger.burn(
                member_id=member_id,
                partner_id=partner.pk,
                points=reward.points_price,
                idempotency=IdempotencyKey(
                    f"partner:{partner.pk}:reward",
                    f"{idempotency.scope}:{idempotency.key}" if idempotency else new_voucher_code(),
                ),
                memo=f"reward {reward.code}",
            )
            if reward.stock is not None:
                reward.stock -= 1
                reward.save(update_fields=["stock"])
                if reward.stock == 0:
                    _sync_catalogue(reward)
            voucher = Voucher.objects.create(
                code=new_voucher_code(),
                reward=reward,
                member_id=member_id,
                points=reward.points_price,
                expires_at=now + timedelta(days=reward.voucher_validity_days),
                burn_transaction_id=posting.transaction_id,
                idempotency_scope=idempotency.scope if idempotency else None,
                idempotency_key=idempotency.key if idempotency else None,
                request_hash=digest,
            )
            webhooks.emit(partner.pk, "points_redeemed", {
                "member_number": member.member_number, "points": voucher.points,
                "balance_after": posting.balance_after, "reason": "reward",
                "reward_code": reward.code, "voucher_code": voucher.code,
            })  # fmt: skip
            # The member's e-mail with the code, once the redemption has committed.
            jobs.enqueue_on_commit(tasks.send_voucher_notice, partner.pk, voucher.pk)
            return voucher
    except IntegrityError:
        if idempotency is not None:
            existing = Voucher.objects.filter(
                idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
            ).first()
            if existing is not None and existing.request_hash == digest:
                return existing
        raise


def _voucher_problem(voucher: Voucher | None, code: str, now: datetime) -> RewardError:
    if voucher is None:
        return UnknownVoucher(f"no voucher {code!r} at this partner")
    if voucher.status == VoucherStatus.CONSUMED:
        return VoucherAlreadyUsed(f"voucher {voucher.code} was used at {voucher.consumed_at}")
    if voucher.status == VoucherStatus.CANCELLED:
        return VoucherCancelled(f"voucher {voucher.code} was cancelled")
    return VoucherExpired(f"voucher {voucher.code} expired at {voucher.expires_at}")


def voucher_validate(*, code: str, now: datetime | None = None) -> Voucher:
    """The voucher, if it can be consumed now; otherwise the typed reason why not."""
    now = now or timezone.now()
    normalised = normalise_voucher_code(code)
    voucher = (
        Voucher.objects.select_related("reward").filter(code=normalised).first()
        if normalised
        else None
    )
    if voucher is None or voucher.status != VoucherStatus.ISSUED or voucher.expires_at <= now:
        raise _voucher_problem(voucher, code, now)
    return voucher


def voucher_consume(
    *,
    code: str,
    now: datetime | None = None,
    idempotency: IdempotencyKey | None = None,
    actor: Any = None,
) -> Voucher:
    """Use a voucher at the till. Exactly one of any concurrent attempts succeeds;
    the till's retry of the request that succeeded (same key) gets the same answer.
    With an ``actor`` (a member of staff in the console) the use is audited."""
    now = now or timezone.now()
    normalised = normalise_voucher_code(code)
    if normalised is None:
        raise UnknownVoucher(f"{code!r} is not a voucher code (check character mismatch)")
    with transaction.atomic():
        updated = Voucher.objects.filter(
            code=normalised, status=VoucherStatus.ISSUED, expires_at__gt=now
        ).update(
            status=VoucherStatus.CONSUMED,
            consumed_at=now,
            consumed_scope=idempotency.scope if idempotency else None,
            consumed_key=idempotency.key if idempotency else None,
        )
        voucher = Voucher.objects.select_related("reward").filter(code=normalised).first()
        if updated and voucher is not None and actor is not None:
            audit_record(
                actor=actor,
                partner_id=_partner().pk,
                action="till.voucher_consumed",
                target=("voucher", voucher.pk),
                before={"status": VoucherStatus.ISSUED},
                after={
                    "status": voucher.status,
                    "reward": voucher.reward.code,
                    "points": voucher.points,
                    "member_id": voucher.member_id,
                },
            )
    if not updated:
        if (
            voucher is not None
            and idempotency is not None
            and voucher.status == VoucherStatus.CONSUMED
            and (voucher.consumed_scope, voucher.consumed_key)
            == (idempotency.scope, idempotency.key)
        ):
            return voucher
        raise _voucher_problem(voucher, code, now)
    if voucher is None:  # the row this call just updated is gone: vouchers are never deleted
        raise _voucher_problem(None, code, now)
    return voucher


def voucher_cancel(*, code: str, now: datetime | None = None) -> Voucher:
    """Cancel an unused voucher: its points go back to the member, its reward to stock."""
    now = now or timezone.now()
    normalised = normalise_voucher_code(code) or ""
    partner = _partner()
    with transaction.atomic():
        voucher = Voucher.objects.select_for_update().filter(code=normalised).first()
        if voucher is None or voucher.status != VoucherStatus.ISSUED:
            raise _voucher_problem(voucher, code, now)
        posting = ledger.reverse(
            transaction_id=voucher.burn_transaction_id,
            idempotency=IdempotencyKey(f"partner:{partner.pk}:voucher-cancel", voucher.code),
            memo=f"voucher {voucher.code} cancelled",
        )
        voucher.status = VoucherStatus.CANCELLED
        voucher.cancelled_at = now
        voucher.refund_transaction_id = posting.transaction_id
        voucher.save(update_fields=["status", "cancelled_at", "refund_transaction_id"])
        reward = Reward.objects.select_for_update().get(pk=voucher.reward_id)
        if reward.stock is not None:
            reward.stock += 1
            reward.save(update_fields=["stock"])
            _sync_catalogue(reward)
    return voucher


# --- paying with points at the till --------------------------------------------------


def payment_settings() -> PointsPaymentSettings:
    settings_row = PointsPaymentSettings.objects.order_by("id").first()
    if settings_row is None:
        raise PaymentsNotConfigured("this partner has not published a value per point")
    return settings_row


# Stored as DECIMAL(12, 4): four decimals of a minor unit, under 10^8 minor units.
VALUE_PER_POINT_PLACES = 4
VALUE_PER_POINT_LIMIT = Decimal(10) ** 8


def payment_settings_state(settings_row: PointsPaymentSettings | None) -> dict[str, Any] | None:
    if settings_row is None:
        return None
    value = Decimal(settings_row.value_per_point).normalize()
    return {"value_per_point": f"{value:f}", "currency": settings_row.currency}


def payment_value_set(*, value_per_point: Decimal, actor: Any = None) -> PointsPaymentSettings:
    """Publish what one point pays for at this partner's tills (minor units of its
    currency, up to four decimals). Payments already authorised keep the value
    they were authorised at; new ones use this one."""
    if not value_per_point.is_finite() or value_per_point <= 0:
        raise InvalidPointValue("Enter a value of more than 0")
    exponent = value_per_point.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > VALUE_PER_POINT_PLACES:
        raise InvalidPointValue("Enter a value with at most 4 decimal places")
    if value_per_point >= VALUE_PER_POINT_LIMIT:
        raise InvalidPointValue("Enter a value of less than 100,000,000 minor units")
    partner = current_tenant()
    with transaction.atomic():
        settings_row = PointsPaymentSettings.objects.select_for_update().order_by("id").first()
        before = payment_settings_state(settings_row)
        if settings_row is None:
            settings_row = PointsPaymentSettings.objects.create(
                value_per_point=value_per_point, currency=partner.default_currency
            )
        elif settings_row.value_per_point != value_per_point:
            settings_row.value_per_point = value_per_point
            settings_row.save(update_fields=["value_per_point"])
        else:
            return settings_row  # the same value again changes nothing
        audit_record(
            actor=actor,
            partner_id=partner.pk,
            action="points_payments.value",
            target=("points_payment_settings", settings_row.pk),
            before=before,
            after=payment_settings_state(settings_row),
        )
    return settings_row


def points_for_amount(amount: int, value_per_point: Decimal) -> int:
    """Points needed to pay ``amount`` minor units, rounded up (never underpaid)."""
    return int((Decimal(amount) / value_per_point).to_integral_value(ROUND_CEILING))


def payment_points(amount: int) -> tuple[PointsPaymentSettings, int]:
    """The partner's payment settings and the points that pay ``amount`` minor
    units with them; refused when the amount is not positive or the points fall
    below the partner's minimum."""
    if isinstance(amount, bool) or amount <= 0:
        raise InvalidAmount("the amount to pay with points must be positive")
    settings_row = payment_settings()
    points = points_for_amount(amount, settings_row.value_per_point)
    if points < settings_row.minimum_points:
        raise PointsBelowMinimum(
            f"paying with points needs at least {settings_row.minimum_points} points"
        )
    return settings_row, points


def amount_for_points(points: int, value_per_point: Decimal) -> int:
    return math.floor(Decimal(points) * value_per_point)


@dataclass(frozen=True)
class PaymentView:
    payment_id: int
    hold_id: int
    points: int
    amount: int
    currency: str
    status: str
    balance_after: int


def _audit_payment(actor: Any, action: str, payment: PointsPayment, **after: Any) -> None:
    """Record what a member of staff did to a payment at the till (console only:
    partner apps calling the API are not people)."""
    if actor is None:
        return
    audit_record(
        actor=actor,
        partner_id=_partner().pk,
        action=action,
        target=("points_payment", payment.pk),
        after={
            "status": payment.status,
            "member_id": payment.member_id,
            "currency": payment.currency,
            **after,
        },
    )


def points_payment_authorize(
    *,
    member_id: int,
    amount: int,
    reference: str = "",
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
    actor: Any = None,
) -> PaymentView:
    """Reserve the points that pay ``amount`` (minor units) of a basket, for the
    partner's hold time from ``now`` (default: the application clock)."""
    settings_row, points = payment_points(amount)
    partner = _partner()
    with transaction.atomic():
        posting = ledger.hold_authorize(
            member_id=member_id,
            partner_id=partner.pk,
            points=points,
            expires_in=timedelta(minutes=settings_row.hold_minutes),
            idempotency=idempotency,
            external_ref=reference[:120],
            now=now,
        )
        hold_id = int(posting.result["hold"])
        payment, _ = PointsPayment.objects.get_or_create(
            hold_id=hold_id,
            defaults={
                "member_id": member_id,
                "reference": reference[:120],
                "points": points,
                "amount": amount,
                "currency": settings_row.currency,
                "value_per_point": settings_row.value_per_point,
            },
        )
        if not posting.replayed:
            _audit_payment(actor, "till.payment_authorised", payment, points=points, amount=amount)
    return PaymentView(
        payment.pk,
        hold_id,
        points,
        amount,
        payment.currency,
        payment.status,
        posting.balance_after,
    )


def points_payment_capture(
    *,
    payment_id: int,
    amount: int | None = None,
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
    actor: Any = None,
) -> PaymentView:
    """Capture the payment, wholly or for a smaller amount; the rest goes back.
    A smaller amount converts at the value per point of the authorisation: the
    member agreed to that price, and the partner may have published another since."""
    partner = _partner()
    with transaction.atomic():
        payment = PointsPayment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            raise UnknownPayment(f"no points payment {payment_id}")
        if amount is not None and (amount <= 0 or amount > payment.amount):
            raise InvalidAmount(f"capture between 1 and {payment.amount}")
        points = (
            payment.points
            if amount is None or amount == payment.amount
            else min(payment.points, points_for_amount(amount, payment.value_per_point))
        )
        posting = ledger.hold_capture(
            hold_id=payment.hold_id,
            points=points,
            partner_id=partner.pk,
            idempotency=idempotency,
            now=now,
        )
        payment.status = PointsPaymentStatus.CAPTURED
        payment.captured_points = points
        payment.captured_amount = amount if amount is not None else payment.amount
        payment.save(update_fields=["status", "captured_points", "captured_amount"])
        if not posting.replayed:
            _audit_payment(
                actor, "till.payment_captured", payment,
                points=points, amount=payment.captured_amount,
                held_points=payment.points, held_amount=payment.amount,
            )  # fmt: skip
            webhooks.emit(partner.pk, "points_redeemed", lambda: {
                "member_number": Member.objects.get(pk=payment.member_id).member_number,
                "points": points, "balance_after": posting.balance_after,
                "reason": "points_payment", "payment_id": payment.pk,
            })  # fmt: skip
    return PaymentView(
        payment.pk,
        payment.hold_id,
        points,
        payment.captured_amount,
        payment.currency,
        payment.status,
        posting.balance_after,
    )


def points_payment_void(
    *, payment_id: int, idempotency: IdempotencyKey | None = None, actor: Any = None
) -> PaymentView:
    partner = _partner()
    with transaction.atomic():
        payment = PointsPayment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            raise UnknownPayment(f"no points payment {payment_id}")
        posting = ledger.hold_void(
            hold_id=payment.hold_id, partner_id=partner.pk, idempotency=idempotency
        )
        payment.status = PointsPaymentStatus.VOIDED
        payment.save(update_fields=["status"])
        if not posting.replayed:
            _audit_payment(
                actor, "till.payment_voided", payment, points=payment.points, amount=payment.amount
            )
    return PaymentView(
        payment.pk,
        payment.hold_id,
        payment.points,
        payment.amount,
        payment.currency,
        payment.status,
        posting.balance_after,
    )


def points_payments_expire() -> int:
    """Mark expired every authorised points payment whose ledger hold has expired,
    in every partner's schema; return how many. The hold-expiry job runs it right
    after releasing holds. It compares with the holds themselves, so running it
    twice changes nothing, and a payment a crashed run left behind is caught up."""
    schemas = [
        row[0]
        for row in driver_sql.fetchall(
            """
            SELECT schema_name FROM public.partners_partner
             WHERE to_regclass(format('%%I.rewards_pointspayment', schema_name)) IS NOT NULL
             ORDER BY id
            """
        )
    ]
    expired = 0
    for schema in schemas:
        with driver_sql.driver_cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE "{schema}".rewards_pointspayment AS payment SET status = %s
                  FROM public.ledger_hold AS hold
                 WHERE hold.id = payment.hold_id AND hold.status = %s AND payment.status = %s
                """,  # noqa: S608 - schema names come from the partner registry
                [PointsPaymentStatus.EXPIRED, HoldStatus.EXPIRED, PointsPaymentStatus.AUTHORIZED],
            )
            expired += max(cursor.rowcount, 0)
    return expired
