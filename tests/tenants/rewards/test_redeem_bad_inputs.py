"""Every bad input to redeeming gets its typed error and changes nothing: no ledger
transaction, voucher, hold, payment, transfer or donation appears, no stock,
catalogue entry or balance moves. Cancelling an unused voucher gives back the
points and the stock; cancelling a used one is refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from coalition.catalogue.models import CatalogueEntry
from coalition.charity.models import Donation
from coalition.charity.services import charity_create, donation_make
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.errors import (
    AmountNotPositive,
    InsufficientPoints,
    PartnerNotActive,
    TransferToSelf,
)
from coalition.ledger.models import Hold, Transaction
from coalition.members.errors import MemberNotActive
from coalition.members.models import Member
from coalition.members.services import member_enrol, member_set_status
from coalition.transfers.models import TransferRecord
from coalition.transfers.services import points_transfer
from tenants.partners.models import Partner
from tenants.partners.services import partner_change_status
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPayment, PointsPaymentSettings, Reward, Voucher
from tests.testkit import in_partner


@dataclass
class Shop:
    member: Member
    other: Member
    partner: Partner
    now: datetime


@pytest.fixture
def shop(db: None, partner_a: Partner, partner_b: Partner) -> Shop:
    """A member with 1000 points from A, and B's rewards and till settings."""
    now = timezone.now()
    member = member_enrol(email=f"bad-input-{uuid.uuid4().hex[:10]}@example.com")
    other = member_enrol(email=f"friend-{uuid.uuid4().hex[:10]}@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1000)
    ledger.earn(member_id=other.pk, partner_id=partner_a.pk, points=1000)
    with in_partner(partner_b):
        rewards.reward_save(
            code="coffee", name="Coffee", points_price=100, stock=5, per_member_limit=1
        )
        rewards.reward_save(code="sold-out", name="Sold out", points_price=100, stock=0)
        rewards.reward_save(
            code="future", name="Future", points_price=100, valid_from=now + timedelta(days=1)
        )
        rewards.reward_save(
            code="past",
            name="Past",
            points_price=100,
            valid_from=now - timedelta(days=10),
            valid_until=now - timedelta(seconds=1),
        )
        rewards.reward_save(code="retired", name="Retired", points_price=100, is_active=False)
        rewards.reward_save(code="app-only", name="App only", points_price=100, channels=["app"])
        rewards.reward_save(code="jet", name="Private jet", points_price=5000, stock=1)
        PointsPaymentSettings.objects.create(
            value_per_point=Decimal(1), currency="GBP", minimum_points=100
        )
    return Shop(member, other, partner_b, now)


def _books(shop: Shop) -> tuple[Any, ...]:
    """Everything a bad input must leave as it was."""
    with in_partner(shop.partner):
        return (
            Transaction.objects.count(),
            Hold.objects.count(),
            TransferRecord.objects.count(),
            Donation.objects.count(),
            ledger_selectors.balance(shop.member.pk),
            ledger_selectors.balance(shop.other.pk),
            Voucher.objects.count(),
            tuple(Voucher.objects.order_by("id").values_list("status", flat=True)),
            tuple(Reward.objects.order_by("code").values_list("code", "stock")),
            PointsPayment.objects.count(),
            tuple(
                CatalogueEntry.objects.filter(partner_id=shop.partner.pk)
                .order_by("code")
                .values_list("code", "in_stock", "is_active")
            ),
        )


def _refused(shop: Shop, error: type[Exception], call: Callable[[], object]) -> Exception:
    """Run ``call`` at B; it must raise ``error`` and change nothing."""
    before = _books(shop)
    with in_partner(shop.partner), pytest.raises(error) as raised:
        call()
    assert _books(shop) == before
    return raised.value


def _voucher(shop: Shop, reward: str = "coffee") -> Voucher:
    with in_partner(shop.partner):
        return rewards.reward_redeem(member_id=shop.member.pk, reward_code=reward)


def _mistype(code: str, position: int) -> str:
    char = code[position]
    replacement = rewards.ALPHABET[(rewards.ALPHABET.index(char) + 1) % 32]
    return code[:position] + replacement + code[position + 1 :]


def test_unknown_voucher_code(shop: Shop) -> None:
    # given: a well-formed code (its check character is right) that was never issued
    body = "0" * rewards.CODE_BODY_LENGTH
    code = body + rewards.check_character(body)
    assert rewards.normalise_voucher_code(code) == code
    # when / then: validating, consuming or cancelling it is a typed refusal
    _refused(shop, rewards.UnknownVoucher, lambda: rewards.voucher_validate(code=code))
    _refused(shop, rewards.UnknownVoucher, lambda: rewards.voucher_consume(code=code))
    _refused(shop, rewards.UnknownVoucher, lambda: rewards.voucher_cancel(code=code))


def test_mistyped_voucher_code_fails_its_check_character(shop: Shop) -> None:
    # given: an issued voucher
    voucher = _voucher(shop)
    # when / then: any single wrong character is caught by the check character
    for position in range(len(voucher.code)):
        wrong = _mistype(voucher.code, position)
        assert rewards.normalise_voucher_code(wrong) is None, wrong
        _refused(
            shop, rewards.UnknownVoucher, lambda wrong=wrong: rewards.voucher_consume(code=wrong)
        )
    # so do swapped neighbours and a wrong length
    swapped = voucher.code[1] + voucher.code[0] + voucher.code[2:]
    if swapped != voucher.code:
        _refused(shop, rewards.UnknownVoucher, lambda: rewards.voucher_validate(code=swapped))
    _refused(shop, rewards.UnknownVoucher, lambda: rewards.voucher_consume(code=voucher.code[:-1]))
    # while the code as a person types it (lower case, dashes, O for 0) still works
    typed = "-".join([voucher.code[:4], voucher.code[4:8], voucher.code[8:]]).lower()
    with in_partner(shop.partner):
        assert rewards.voucher_validate(code=typed.replace("0", "o")).pk == voucher.pk
        assert Voucher.objects.get(pk=voucher.pk).status == "issued"


def test_expired_voucher(shop: Shop) -> None:
    # given: a voucher whose validity has run out
    voucher = _voucher(shop)
    later = voucher.expires_at + timedelta(seconds=1)
    # when / then
    _refused(
        shop, rewards.VoucherExpired, lambda: rewards.voucher_validate(code=voucher.code, now=later)
    )
    _refused(
        shop, rewards.VoucherExpired, lambda: rewards.voucher_consume(code=voucher.code, now=later)
    )


def test_cancelled_voucher(shop: Shop) -> None:
    # given: a cancelled voucher
    voucher = _voucher(shop)
    with in_partner(shop.partner):
        rewards.voucher_cancel(code=voucher.code)
    # when / then: it can be neither used nor cancelled again
    _refused(shop, rewards.VoucherCancelled, lambda: rewards.voucher_consume(code=voucher.code))
    _refused(shop, rewards.VoucherCancelled, lambda: rewards.voucher_validate(code=voucher.code))
    _refused(shop, rewards.VoucherCancelled, lambda: rewards.voucher_cancel(code=voucher.code))


def test_reward_out_of_stock(shop: Shop) -> None:
    _refused(
        shop,
        rewards.RewardOutOfStock,
        lambda: rewards.reward_redeem(member_id=shop.member.pk, reward_code="sold-out"),
    )


def test_unknown_reward(shop: Shop) -> None:
    _refused(
        shop,
        rewards.UnknownReward,
        lambda: rewards.reward_redeem(member_id=shop.member.pk, reward_code="no-such-reward"),
    )


def test_reward_outside_its_validity_window(shop: Shop) -> None:
    for code in ("future", "past"):
        _refused(
            shop,
            rewards.RewardUnavailable,
            lambda code=code: rewards.reward_redeem(member_id=shop.member.pk, reward_code=code),
        )
    # the window is checked at the given time: "future" is fine two days later
    with in_partner(shop.partner):
        rewards.reward_redeem(
            member_id=shop.member.pk, reward_code="future", now=shop.now + timedelta(days=2)
        )


def test_inactive_reward(shop: Shop) -> None:
    _refused(
        shop,
        rewards.RewardUnavailable,
        lambda: rewards.reward_redeem(member_id=shop.member.pk, reward_code="retired"),
    )


def test_reward_through_the_wrong_channel(shop: Shop) -> None:
    for channel in ("pos", None):
        _refused(
            shop,
            rewards.RewardUnavailable,
            lambda channel=channel: rewards.reward_redeem(
                member_id=shop.member.pk, reward_code="app-only", channel=channel
            ),
        )
    with in_partner(shop.partner):
        rewards.reward_redeem(member_id=shop.member.pk, reward_code="app-only", channel="app")


def test_per_member_limit_reached(shop: Shop) -> None:
    # given: the member already redeemed the one coffee allowed per member
    first = _voucher(shop)
    # when / then: a second is refused, while another member may still have one
    _refused(
        shop,
        rewards.MemberLimitReached,
        lambda: rewards.reward_redeem(member_id=shop.member.pk, reward_code="coffee"),
    )
    with in_partner(shop.partner):
        rewards.reward_redeem(member_id=shop.other.pk, reward_code="coffee")
        # a cancelled voucher no longer counts against the limit
        rewards.voucher_cancel(code=first.code)
        rewards.reward_redeem(member_id=shop.member.pk, reward_code="coffee")


def test_insufficient_points_for_a_reward(shop: Shop) -> None:
    _refused(
        shop,
        InsufficientPoints,
        lambda: rewards.reward_redeem(member_id=shop.member.pk, reward_code="jet"),
    )


def test_points_below_the_minimum_for_paying_with_points(shop: Shop) -> None:
    # 0.99 GBP is 99 points, below the partner's minimum of 100
    _refused(
        shop,
        rewards.PointsBelowMinimum,
        lambda: rewards.points_payment_authorize(member_id=shop.member.pk, amount=99),
    )


def test_amount_not_positive(shop: Shop) -> None:
    for amount in (0, -500, True):
        _refused(
            shop,
            rewards.InvalidAmount,
            lambda amount=amount: rewards.points_payment_authorize(
                member_id=shop.member.pk, amount=amount
            ),
        )
    # capturing 0 or more than was authorised is refused too
    with in_partner(shop.partner):
        payment = rewards.points_payment_authorize(member_id=shop.member.pk, amount=200)
    for amount in (0, -1, 201):
        _refused(
            shop,
            rewards.InvalidAmount,
            lambda amount=amount: rewards.points_payment_capture(
                payment_id=payment.payment_id, amount=amount
            ),
        )
    # and the ledger refuses non-positive points whatever the caller
    _refused(
        shop,
        AmountNotPositive,
        lambda: ledger.burn(member_id=shop.member.pk, partner_id=shop.partner.pk, points=0),
    )


def test_paying_with_points_where_no_value_is_published(shop: Shop) -> None:
    with in_partner(shop.partner):
        PointsPaymentSettings.objects.all().delete()
    _refused(
        shop,
        rewards.PaymentsNotConfigured,
        lambda: rewards.points_payment_authorize(member_id=shop.member.pk, amount=500),
    )


def test_paying_more_points_than_the_member_has(shop: Shop) -> None:
    _refused(
        shop,
        InsufficientPoints,
        lambda: rewards.points_payment_authorize(member_id=shop.member.pk, amount=1001),
    )


def test_blocked_member(shop: Shop) -> None:
    # given: a blocked member who still holds 1000 points
    member_set_status(member_id=shop.member.pk, status="blocked")
    slug = charity_create(slug=f"shelter-{uuid.uuid4().hex[:8]}", name="Shelter").slug
    member = shop.member.pk
    # when / then: redeeming, paying, transferring (either way) and donating are refused
    _refused(
        shop,
        MemberNotActive,
        lambda: rewards.reward_redeem(member_id=member, reward_code="coffee"),
    )
    _refused(
        shop,
        MemberNotActive,
        lambda: rewards.points_payment_authorize(member_id=member, amount=200),
    )
    _refused(
        shop,
        MemberNotActive,
        lambda: points_transfer(from_member_id=member, to_member_id=shop.other.pk, points=10),
    )
    _refused(
        shop,
        MemberNotActive,
        lambda: points_transfer(from_member_id=shop.other.pk, to_member_id=member, points=10),
    )
    _refused(
        shop,
        MemberNotActive,
        lambda: donation_make(member_id=member, charity_slug=slug, points=10),
    )


def test_transfer_to_self(shop: Shop) -> None:
    _refused(
        shop,
        TransferToSelf,
        lambda: points_transfer(
            from_member_id=shop.member.pk, to_member_id=shop.member.pk, points=10
        ),
    )


def test_redeeming_at_a_suspended_partner(shop: Shop) -> None:
    suspended = partner_change_status(partner=shop.partner, to_status="suspended")
    before = _books(shop)
    with in_partner(suspended), pytest.raises(PartnerNotActive):
        rewards.reward_redeem(member_id=shop.member.pk, reward_code="coffee")
    assert _books(shop) == before


def test_cancelling_an_unused_voucher_returns_the_points_and_the_stock(shop: Shop) -> None:
    # given: a coffee redeemed (stock 5 -> 4, balance 1000 -> 900)
    voucher = _voucher(shop)
    with in_partner(shop.partner):
        assert Reward.objects.get(code="coffee").stock == 4
    assert ledger_selectors.balance(shop.member.pk) == 900

    # when: the unused voucher is cancelled
    with in_partner(shop.partner):
        cancelled = rewards.voucher_cancel(code=voucher.code)

        # then: the points and the unit come back, through a reversal in the ledger
        assert cancelled.status == "cancelled"
        assert Reward.objects.get(code="coffee").stock == 5
        assert cancelled.refund_transaction_id is not None
    refund = Transaction.objects.get(pk=cancelled.refund_transaction_id)
    assert (refund.kind, refund.reverses_id, refund.points) == (
        "burn_reversal",
        voucher.burn_transaction_id,
        100,
    )
    assert ledger_selectors.balance(shop.member.pk) == 1000


def test_cancelling_a_used_voucher_is_refused(shop: Shop) -> None:
    # given: a voucher used at the till
    voucher = _voucher(shop)
    with in_partner(shop.partner):
        rewards.voucher_consume(code=voucher.code)
    # when / then: cancelling it is refused; points and stock stay spent
    _refused(shop, rewards.VoucherAlreadyUsed, lambda: rewards.voucher_cancel(code=voucher.code))
    with in_partner(shop.partner):
        assert Reward.objects.get(code="coffee").stock == 4
    assert ledger_selectors.balance(shop.member.pk) == 900


def test_cancelling_out_of_stock_reward_puts_it_back_in_the_catalogue(shop: Shop) -> None:
    # given: the last unit of a reward redeemed (the catalogue shows it out of stock)
    with in_partner(shop.partner):
        reward = rewards.reward_save(code="last-one", name="Last one", points_price=50, stock=1)
        voucher = rewards.reward_redeem(member_id=shop.member.pk, reward_code="last-one")
    entry = CatalogueEntry.objects.get(partner_id=shop.partner.pk, reward_id=reward.pk)
    assert entry.in_stock is False
    # when: its voucher is cancelled
    with in_partner(shop.partner):
        rewards.voucher_cancel(code=voucher.code)
    # then: it is in stock again, in the reward and in the catalogue
    entry.refresh_from_db()
    assert entry.in_stock is True
