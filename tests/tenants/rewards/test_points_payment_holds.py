"""Paying with points at the till (a ledger hold behind each payment), and the
ledger's holds directly: partial capture gives the rest back to the wallet and
its lots; a hold resolves once (capture twice, void after capture, capture after
void or expiry are refused); expiry releases the points; money converts at the
partner's published value per point, rounded up; the money part of a basket
still earns while the points-paid part earns nothing. The books verify after each.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger import tasks as ledger_tasks
from coalition.ledger.errors import (
    CaptureExceedsHold,
    HoldAlreadyResolved,
    HoldExpired,
    PartnerNotActive,
    WrongPartner,
)
from coalition.ledger.models import Hold, Lot, Transaction
from coalition.ledger.verification import verify
from coalition.members.models import Member
from coalition.members.services import member_enrol
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.partners.services import partner_change_status
from tenants.purchases.models import Purchase
from tenants.purchases.services import Receipt, ReceiptLine, purchase_preview, purchase_record
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPayment, PointsPaymentSettings
from tests.testkit import in_partner
from tests.testkit.concurrency import books_report, wallet_state


def _member(points: int, partner: Partner) -> Member:
    member = member_enrol(email=f"payer-{uuid.uuid4().hex[:10]}@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points)
    return member


def _settings(value_per_point: str, currency: str, **extra: int) -> PointsPaymentSettings:
    """This partner's published value per point (one row, replaced)."""
    PointsPaymentSettings.objects.all().delete()
    return PointsPaymentSettings.objects.create(
        value_per_point=Decimal(value_per_point), currency=currency, **extra
    )


def _assert_books_ok() -> None:
    report = verify()
    assert report.ok, report.problems
    books = books_report()
    assert books.holds_account_balance == books.pending_hold_points


def _lot_remaining(member_id: int) -> int:
    return sum(Lot.objects.filter(member_id=member_id).values_list("remaining", flat=True))


def test_conversion_at_the_partners_value_per_point_rounds_up(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a member with 1000 points; at B one point pays half a penny
    member = _member(1000, partner_a)
    with in_partner(partner_b):
        _settings("0.5", "GBP")
        # when: paying 1.01 GBP with points
        half = rewards.points_payment_authorize(member_id=member.pk, amount=101)
        # then: 2 points per penny
        assert (half.points, half.amount, half.currency) == (202, 101, "GBP")
        assert half.balance_after == 1000 - 202

        # given: one point is now worth 3 pence
        _settings("3", "GBP")
        # when: paying 1.00 GBP
        third = rewards.points_payment_authorize(member_id=member.pk, amount=100)
        # then: 33.33 points round up to 34 (the partner is never underpaid)
        assert third.points == 34
        assert rewards.amount_for_points(third.points, Decimal(3)) >= 100
        assert rewards.points_for_amount(99, Decimal(3)) == 33

    held = Hold.objects.filter(member_id=member.pk).order_by("id")
    assert [(hold.points, hold.partner_id, hold.status) for hold in held] == [
        (202, partner_b.pk, "pending"),
        (34, partner_b.pk, "pending"),
    ]
    assert ledger_selectors.balance(member.pk) == 1000 - 202 - 34
    _assert_books_ok()


def test_partial_capture_returns_the_rest_to_the_wallet_and_its_lots(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: 1000 points in one lot from A; 300 reserved to pay 3.00 GBP at B
    member = _member(1000, partner_a)
    with in_partner(partner_b):
        _settings("1", "GBP")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=300, reference="T1")
        assert payment.points == 300
        assert wallet_state(member.pk) == (700, 700, 700)

        # when: the till captures only 1.20 GBP
        captured = rewards.points_payment_capture(payment_id=payment.payment_id, amount=120)

        # then: 120 points are spent, 180 go back into the wallet and its lot
        assert (captured.points, captured.amount, captured.status) == (120, 120, "captured")
        assert captured.balance_after == 880
        stored = PointsPayment.objects.get(pk=payment.payment_id)
        assert (stored.captured_points, stored.captured_amount) == (120, 120)
    assert wallet_state(member.pk) == (880, 880, 880)
    assert _lot_remaining(member.pk) == 880
    hold = Hold.objects.get(pk=payment.hold_id)
    assert (hold.status, hold.captured_points) == ("captured", 120)
    capture = Transaction.objects.get(hold_id=hold.pk, kind="capture")
    assert (capture.result["captured"], capture.result["released"]) == (120, 180)
    _assert_books_ok()


def test_partial_capture_converts_at_the_value_per_point_of_the_authorisation(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: 300 points reserved at B to pay 3.00 GBP when a point paid a penny
    member = _member(1000, partner_a)
    with in_partner(partner_b):
        _settings("1", "GBP")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=300)
        assert payment.points == 300
        # and B has since doubled what a point is worth
        _settings("2", "GBP")

        # when: the till captures only 1.20 GBP of it
        captured = rewards.points_payment_capture(payment_id=payment.payment_id, amount=120)

    # then: 120 points are spent, at the penny a point was worth when the member
    # agreed to pay, not 60 at today's value; the other 180 go back
    assert (captured.points, captured.amount, captured.balance_after) == (120, 120, 880)
    assert wallet_state(member.pk) == (880, 880, 880)
    _assert_books_ok()


def test_a_suspended_partner_cannot_capture_a_points_payment_but_can_void_it(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: 200 points reserved at B, then B suspended (ADR 0014)
    member = _member(500, partner_a)
    with in_partner(partner_b):
        _settings("1", "GBP")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=200)
    partner_change_status(partner=partner_b, to_status="suspended")
    transactions = Transaction.objects.count()

    with in_partner(partner_b):
        # when: the till captures it, then it is refused and nothing moves
        with pytest.raises(PartnerNotActive):
            rewards.points_payment_capture(payment_id=payment.payment_id)
        assert PointsPayment.objects.get(pk=payment.payment_id).status == "authorized"
        assert Transaction.objects.count() == transactions
        assert ledger_selectors.balance(member.pk) == 300

        # when: it is voided, then every point goes back to the member
        voided = rewards.points_payment_void(payment_id=payment.payment_id)
    assert (voided.status, voided.balance_after) == ("voided", 500)
    assert wallet_state(member.pk) == (500, 500, 500)
    _assert_books_ok()


def test_a_points_payment_expires_with_its_hold(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: 400 points reserved at B an hour ago for 15 minutes, never captured
    member = _member(1000, partner_a)
    with in_partner(partner_b):
        _settings("1", "GBP", hold_minutes=15)
        payment = rewards.points_payment_authorize(
            member_id=member.pk, amount=400, now=timezone.now() - timedelta(hours=1)
        )

    # when: the hold-expiry job runs (as the scheduler runs it)
    ledger_tasks.expire_holds()

    # then: the hold released its points and reading the payment shows it expired
    assert Hold.objects.get(pk=payment.hold_id).status == "expired"
    assert wallet_state(member.pk) == (1000, 1000, 1000)
    with in_partner(partner_b):
        stored = PointsPayment.objects.get(pk=payment.payment_id)
        assert (stored.status, stored.captured_points) == ("expired", 0)
        # and the till can no longer capture or void it, which leaves it expired
        with pytest.raises(HoldAlreadyResolved):
            rewards.points_payment_capture(payment_id=payment.payment_id)
        with pytest.raises(HoldAlreadyResolved):
            rewards.points_payment_void(payment_id=payment.payment_id)
        assert PointsPayment.objects.get(pk=payment.payment_id).status == "expired"
    # and running the job again changes nothing
    transactions = Transaction.objects.count()
    ledger_tasks.expire_holds()
    assert Transaction.objects.count() == transactions
    _assert_books_ok()


def test_capture_twice_is_refused(db: None, partner_a: Partner, partner_b: Partner) -> None:
    # given: a payment captured once
    member = _member(500, partner_a)
    with in_partner(partner_b):
        _settings("1", "GBP")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=200)
        rewards.points_payment_capture(payment_id=payment.payment_id)
        transactions = Transaction.objects.count()

        # when / then: a second capture is refused, through the till and the ledger
        with pytest.raises(HoldAlreadyResolved):
            rewards.points_payment_capture(payment_id=payment.payment_id)
        with pytest.raises(HoldAlreadyResolved):
            ledger.hold_capture(hold_id=payment.hold_id, points=50)
    # and nothing moved
    assert Transaction.objects.count() == transactions
    assert ledger_selectors.balance(member.pk) == 300
    _assert_books_ok()


def test_void_after_capture_is_refused(db: None, partner_a: Partner, partner_b: Partner) -> None:
    # given: a captured payment
    member = _member(500, partner_a)
    with in_partner(partner_b):
        _settings("1", "GBP")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=200)
        rewards.points_payment_capture(payment_id=payment.payment_id)
        transactions = Transaction.objects.count()

        # when / then: voiding it now is refused, and the payment stays captured
        with pytest.raises(HoldAlreadyResolved):
            rewards.points_payment_void(payment_id=payment.payment_id)
        assert PointsPayment.objects.get(pk=payment.payment_id).status == "captured"
    with pytest.raises(HoldAlreadyResolved):
        ledger.hold_void(hold_id=payment.hold_id)
    assert Transaction.objects.count() == transactions
    assert ledger_selectors.balance(member.pk) == 300
    _assert_books_ok()


def test_capture_after_void_is_refused(db: None, partner_a: Partner, partner_b: Partner) -> None:
    # given: a voided payment (every held point is back in the wallet and its lot)
    member = _member(500, partner_a)
    with in_partner(partner_b):
        _settings("1", "GBP")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=200)
        voided = rewards.points_payment_void(payment_id=payment.payment_id)
        assert (voided.status, voided.balance_after) == ("voided", 500)
        assert wallet_state(member.pk) == (500, 500, 500)
        transactions = Transaction.objects.count()

        # when / then: capturing it is refused
        with pytest.raises(HoldAlreadyResolved):
            rewards.points_payment_capture(payment_id=payment.payment_id)
        assert PointsPayment.objects.get(pk=payment.payment_id).status == "voided"
    with pytest.raises(HoldAlreadyResolved):
        ledger.hold_capture(hold_id=payment.hold_id)
    assert Transaction.objects.count() == transactions
    assert ledger_selectors.balance(member.pk) == 500
    _assert_books_ok()


def test_hold_expiry_releases_the_points_and_capture_afterwards_is_refused(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: 400 points reserved at B for 15 minutes
    member = _member(1000, partner_a)
    with in_partner(partner_b):
        _settings("1", "GBP", hold_minutes=15)
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=400)
    hold = Hold.objects.get(pk=payment.hold_id)
    assert ledger_selectors.balance(member.pk) == 600

    # when: the expiry job runs before the hold expires, then after
    assert Hold.objects.get(pk=hold.pk).status == "pending"
    ledger.holds_expire(now=hold.expires_at - timedelta(seconds=1))
    assert Hold.objects.get(pk=hold.pk).status == "pending"
    released = ledger.holds_expire(now=hold.expires_at + timedelta(seconds=1))

    # then: the hold expired once and every point is back in the wallet and its lot
    assert released >= 1
    assert Hold.objects.get(pk=hold.pk).status == "expired"
    assert wallet_state(member.pk) == (1000, 1000, 1000)
    expiry = Transaction.objects.get(hold_id=hold.pk, kind="hold_expiry")
    assert (expiry.result["captured"], expiry.result["released"]) == (0, 400)
    # running the job again releases nothing more for it
    ledger.holds_expire(now=hold.expires_at + timedelta(seconds=2))
    assert Transaction.objects.filter(hold_id=hold.pk).count() == 2

    # and capturing or voiding it afterwards is refused
    with in_partner(partner_b):
        with pytest.raises(HoldAlreadyResolved):
            rewards.points_payment_capture(payment_id=payment.payment_id)
        with pytest.raises(HoldAlreadyResolved):
            rewards.points_payment_void(payment_id=payment.payment_id)
    assert ledger_selectors.balance(member.pk) == 1000
    _assert_books_ok()


def test_capture_of_an_expired_hold_not_yet_released_is_refused(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a ledger hold that expires a minute after it is authorised
    member = _member(300, partner_a)
    expires_at = timezone.now() + timedelta(minutes=1)
    posting = ledger.hold_authorize(
        member_id=member.pk, partner_id=partner_b.pk, points=100, expires_at=expires_at
    )
    hold_id = int(posting.result["hold"])
    later = expires_at + timedelta(seconds=1)
    transactions = Transaction.objects.count()

    # when / then: capturing after its expiry (before the job released it) is refused
    with pytest.raises(HoldExpired):
        ledger.hold_capture(hold_id=hold_id, now=later)
    assert Transaction.objects.count() == transactions
    assert Hold.objects.get(pk=hold_id).status == "pending"
    # and the job then gives the points back
    ledger.holds_expire(now=later)
    assert Hold.objects.get(pk=hold_id).status == "expired"
    with pytest.raises(HoldAlreadyResolved):
        ledger.hold_capture(hold_id=hold_id)
    assert wallet_state(member.pk) == (300, 300, 300)
    _assert_books_ok()


def test_ledger_hold_partial_capture_overcapture_and_wrong_partner(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: two lots from two issuers, 250 points held at B (soonest expiry first)
    member = member_enrol(email=f"holder-{uuid.uuid4().hex[:10]}@example.com")
    now = timezone.now()
    soon = ledger.earn(
        member_id=member.pk,
        partner_id=partner_a.pk,
        points=200,
        expires_at=now + timedelta(days=30),
    )
    later = ledger.earn(
        member_id=member.pk,
        partner_id=partner_b.pk,
        points=200,
        expires_at=now + timedelta(days=300),
    )
    posting = ledger.hold_authorize(member_id=member.pk, partner_id=partner_b.pk, points=250)
    hold_id = int(posting.result["hold"])
    assert Lot.objects.get(pk=soon.result["lot"]).remaining == 0
    assert Lot.objects.get(pk=later.result["lot"]).remaining == 150
    transactions = Transaction.objects.count()

    # when / then: capturing more than held, or at another partner, is refused
    with pytest.raises(CaptureExceedsHold):
        ledger.hold_capture(hold_id=hold_id, points=251)
    with pytest.raises(WrongPartner):
        ledger.hold_capture(hold_id=hold_id, points=100, partner_id=partner_a.pk)
    assert Transaction.objects.count() == transactions

    # when: 100 of the 250 are captured at B
    captured = ledger.hold_capture(hold_id=hold_id, points=100, partner_id=partner_b.pk)

    # then: 150 are released into the lots they came from (the latest taken first)
    assert captured.result == {
        "hold": hold_id,
        "captured": 100,
        "released": 150,
        "balance_after": 300,
    }
    assert Lot.objects.get(pk=later.result["lot"]).remaining == 200
    assert Lot.objects.get(pk=soon.result["lot"]).remaining == 100
    assert wallet_state(member.pk) == (300, 300, 300)
    with pytest.raises(HoldAlreadyResolved):
        ledger.hold_capture(hold_id=hold_id, points=1)
    with pytest.raises(HoldAlreadyResolved):
        ledger.hold_void(hold_id=hold_id)
    _assert_books_ok()


def test_the_money_part_of_a_basket_still_earns_the_points_part_does_not(
    db: None, partner_a: Partner
) -> None:
    # given: at A, 1 point per EUR, and one point pays one cent
    now = timezone.now()
    member = _member(5000, partner_a)
    with in_partner(partner_a):
        version = earning.ruleset_draft_create(description="pay with points")
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=version, effective_from=now, now=now)
        _settings("1", "EUR")
        # the member pays 40.00 EUR of a 100.00 EUR basket with 4000 points
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=4000)
        rewards.points_payment_capture(payment_id=payment.payment_id)
        receipt = Receipt(
            external_id=f"PWP-{uuid.uuid4().hex[:10]}",
            member_id=member.pk,
            occurred_at=now,
            currency="EUR",
            lines=(ReceiptLine("BASKET", "groceries", 1, 10000),),
            total=10000,
            paid_with_points=4000,
        )
        all_money = purchase_preview(replace(receipt, paid_with_points=0), now=now)

        # when: the purchase is recorded
        result = purchase_record(receipt, now=now)

    # then: the 60 EUR paid in money earn 60 points; the 40 EUR paid with points none
    assert all_money.rule_points == 100
    assert (result.rule_points, result.points) == (60, 60)
    with in_partner(partner_a):
        earn_id = Purchase.objects.get(pk=result.purchase_id).ledger_transaction_id
    earned = Transaction.objects.get(pk=earn_id)
    assert (earned.kind, earned.points, earned.partner_id) == ("earn", 60, partner_a.pk)
    assert ledger_selectors.balance(member.pk) == 5000 - 4000 + 60
    _assert_books_ok()
