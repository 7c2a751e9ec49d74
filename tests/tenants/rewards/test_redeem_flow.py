"""Earn at one partner, redeem a reward at another, use the voucher once, pay
with points at the till: the ledger records which issuer's points were spent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from coalition.catalogue.selectors import catalogue_page
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import LotMovement
from coalition.ledger.verification import verify
from coalition.members.services import member_enrol
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPaymentSettings
from tests.testkit import in_partner


def test_earn_at_a_redeem_at_b_voucher_once_then_pay_with_points(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    member = member_enrol(email="redeemer@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1000)
    with in_partner(partner_b):
        rewards.reward_save(code="lounge", name="Lounge pass", points_price=400, stock=1)
        page = catalogue_page(first=10)
        assert [entry.code for entry in page.entries] == ["lounge"]
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code="lounge")
        assert rewards.normalise_voucher_code(voucher.code) == voucher.code
        with pytest.raises(rewards.RewardOutOfStock):
            rewards.reward_redeem(member_id=member.pk, reward_code="lounge")
        assert catalogue_page(first=10).entries == []  # out of stock leaves the catalogue
        rewards.voucher_consume(code=voucher.code)
        with pytest.raises(rewards.VoucherAlreadyUsed):
            rewards.voucher_consume(code=voucher.code)
        wrong = voucher.code[:-1] + ("0" if voucher.code[-1] != "0" else "1")
        with pytest.raises(rewards.UnknownVoucher):
            rewards.voucher_validate(code=wrong)

        PointsPaymentSettings.objects.create(value_per_point=Decimal("1"), currency="GBP")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=250)
        assert payment.points == 250
        captured = rewards.points_payment_capture(payment_id=payment.payment_id, amount=200)
        assert captured.points == 200
    # burn at B consumed A's lot: the issuer is traceable for settlement
    consumed = LotMovement.objects.filter(transaction_id=voucher.burn_transaction_id)
    assert {movement.lot.issuer_id for movement in consumed} == {partner_a.pk}
    assert ledger_selectors.balance(member.pk) == 1000 - 400 - 200
    assert verify().ok
