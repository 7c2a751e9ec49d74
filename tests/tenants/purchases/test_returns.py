"""Returns reverse the returned part's points: proportionally, cumulatively (no
rounding drift), never below zero (a shortfall is recorded instead), also for a
purchase from a closed period; invalid returns change nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.chain import seal_all
from coalition.ledger.errors import IdempotencyKeyReused
from coalition.ledger.models import Transaction
from coalition.ledger.verification import verify
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.purchases.errors import InvalidReturn, UnknownPurchase
from tenants.purchases.models import (
    PointsShortfall,
    Purchase,
    PurchaseLine,
    PurchaseReturn,
)
from tenants.purchases.services import ReceiptLine, purchase_record, purchase_return
from tests.testkit import in_partner
from tests.testkit.earning import (
    max_transaction_id,
    new_member,
    publish,
    receipt,
    uid,
)


def assert_books_ok() -> None:
    report = verify()
    assert report.ok, report.problems


def assert_wallet_matches_ledger(member_id: int) -> None:
    balance = ledger_selectors.balance(member_id)
    assert balance >= 0
    assert balance == sum(lot.remaining for lot in ledger_selectors.lots(member_id))


def test_full_return_reverses_everything(db: None, partner_a: Partner) -> None:
    # given a purchase of three lines that earned 68 points
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        bought = purchase_record(
            receipt(
                member.pk,
                now,
                ReceiptLine("A", "food", 2, 1250),
                ReceiptLine("B", "food", 1, 999),
                ReceiptLine("C", "drinks", 3, 1111),
            ),
            now=now,
        )
        assert bought.points == 68  # 25 + 9.99 + 33.33 = 68.32 -> 68
        # when every line is returned at once
        result = purchase_return(external_id=bought.external_id, lines={1: 2, 2: 1, 3: 3})
        purchase = Purchase.objects.get(pk=bought.purchase_id)
    # then exactly the awarded points are reversed and the wallet is back to zero
    assert (result.points_requested, result.points_reversed, result.shortfall) == (68, 68, 0)
    assert result.value == 2500 + 999 + 3333
    assert purchase.points_reversed == purchase.points_awarded == 68
    assert ledger_selectors.balance(member.pk) == 0
    assert_wallet_matches_ledger(member.pk)
    assert_books_ok()


def test_partial_return_reverses_its_share(db: None, partner_a: Partner) -> None:
    # given a purchase of 4 x 10.00 and 1 x 60.00 (100 points)
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        bought = purchase_record(
            receipt(
                member.pk, now, ReceiptLine("A", "food", 4, 1000), ReceiptLine("B", "tv", 1, 6000)
            ),
            now=now,
        )
        # when one of the four 10.00 items is returned
        result = purchase_return(external_id=bought.external_id, lines={1: 1})
        line = PurchaseLine.objects.get(purchase_id=bought.purchase_id, line_number=1)
    # then its share (10 of 100) is reversed and the line remembers the return
    assert (result.value, result.points_reversed, result.shortfall) == (1000, 10, 0)
    assert line.returned_quantity == 1
    assert ledger_selectors.balance(member.pk) == 90
    assert_wallet_matches_ledger(member.pk)
    assert_books_ok()


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([{1: 1}, {2: 1}, {3: 1}], id="line-by-line"),
        pytest.param([{3: 1}, {1: 1}, {2: 1}], id="line-by-line-other-order"),
        pytest.param([{1: 1, 2: 1}, {3: 1}], id="two-then-one"),
    ],
)
def test_repeated_partial_returns_add_up_to_the_award_without_drift(
    db: None, partner_a: Partner, steps: list[dict[int, int]]
) -> None:
    # given 3 equal lines that earned 7 points (3.00 x 2.34 = 7.02 -> 7): a third
    # of 7 is not a whole number
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "2.34"}})], effective_from=now, now=now)
        bought = purchase_record(
            receipt(
                member.pk,
                now,
                ReceiptLine("A", "food", 1, 100),
                ReceiptLine("B", "food", 1, 100),
                ReceiptLine("C", "food", 1, 100),
            ),
            now=now,
        )
        assert bought.points == 7
        # when the lines are returned in several returns
        reversed_so_far, returned_lines = 0, 0
        for step in steps:
            result = purchase_return(external_id=bought.external_id, lines=step)
            returned_lines += len(step)
            # then each return brings the cumulative reversal to floor(7 x share)
            expected_total = int((Decimal(7) * returned_lines / 3).to_integral_value(ROUND_FLOOR))
            reversed_so_far += result.points_reversed
            assert reversed_so_far == expected_total
            assert result.shortfall == 0
    # and once everything is back, exactly the 7 awarded points were reversed
    assert reversed_so_far == 7
    assert ledger_selectors.balance(member.pk) == 0
    assert_books_ok()


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # cumulative floor(7 x k / 5): 1, 2, 4, 5, 7 (returning each unit on its own
        # share, floor(7 / 5) = 1 each time, would give 1, 1, 1, 1, 3)
        pytest.param([1, 1, 1, 1, 1], [1, 1, 2, 1, 2], id="unit-by-unit"),
        pytest.param([2, 2, 1], [2, 3, 2], id="two-two-one"),
        pytest.param([3, 2], [4, 3], id="three-then-two"),
    ],
)
def test_unit_returns_of_one_line_add_up(
    db: None, partner_a: Partner, steps: list[int], expected: list[int]
) -> None:
    # given one line of 5 units that earned 7 points (5.00 x 1.4)
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1.4"}})], effective_from=now, now=now)
        bought = purchase_record(receipt(member.pk, now, ReceiptLine("A", "food", 5, 100)), now=now)
        assert bought.points == 7
        # when the units come back in several returns
        results = [
            purchase_return(external_id=bought.external_id, lines={1: quantity})
            for quantity in steps
        ]
    # then each return brings the running total to floor(7 x returned share), and
    # together they reverse exactly the 7 points: none lost or invented by rounding
    assert [r.points_reversed for r in results] == expected
    assert sum(expected) == 7
    assert ledger_selectors.balance(member.pk) == 0
    assert_books_ok()


def test_points_of_excluded_lines_come_back_only_with_the_full_return(
    db: None, partner_a: Partner
) -> None:
    # given a purchase of excluded gift cards only, which earned just a 40-point
    # campaign bonus (no line carries any earning weight)
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish(
            [
                ("base_rate", {"rates": {"EUR": "1"}}),
                ("exclude_categories", {"categories": ["gift_cards"]}),
            ],
            effective_from=now,
            now=now,
        )
        earning.campaign_create(
            name="bonus", kind="bonus", params={"points": 40},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
        )  # fmt: skip
        bought = purchase_record(
            receipt(member.pk, now, ReceiptLine("GIFT", "gift_cards", 2, 2500)), now=now
        )
        assert (bought.rule_points, bought.points) == (0, 40)
        # when one card is returned, then no points are reversed
        first = purchase_return(external_id=bought.external_id, lines={1: 1})
        assert (first.points_requested, first.points_reversed) == (0, 0)
        # when the other one is, the purchase is fully returned: the 40 points go back
        last = purchase_return(external_id=bought.external_id, lines={1: 1})
    assert (last.points_requested, last.points_reversed, last.shortfall) == (40, 40, 0)
    assert ledger_selectors.balance(member.pk) == 0
    assert_books_ok()


def test_return_after_the_points_were_spent_records_a_shortfall(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given 100 points earned at alpha, 80 of them spent at beta
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        bought = purchase_record(
            receipt(member.pk, now, ReceiptLine("A", "food", 2, 5000)), now=now
        )
    assert bought.points == 100
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=80)
    assert ledger_selectors.balance(member.pk) == 20
    with in_partner(partner_a):
        # when half the purchase is returned (50 points asked back)
        half = purchase_return(external_id=bought.external_id, lines={1: 1})
        # then the 20 still there are taken back and 30 are recorded as a shortfall
        assert (half.points_requested, half.points_reversed, half.shortfall) == (50, 20, 30)
        shortfall = PointsShortfall.objects.get(purchase_return_id=half.return_id)
        assert (shortfall.member_id, shortfall.points, shortfall.recovered_points) == (
            member.pk,
            30,
            0,
        )
        assert ledger_selectors.balance(member.pk) == 0
        # when the rest is returned with nothing left in the wallet
        rest = purchase_return(external_id=bought.external_id, lines={1: 1})
        assert (rest.points_requested, rest.points_reversed, rest.shortfall) == (50, 0, 50)
        assert PointsShortfall.objects.get(purchase_return_id=rest.return_id).points == 50
        purchase = Purchase.objects.get(pk=bought.purchase_id)
    # then the purchase counts all 100 as asked back, the wallet never went negative
    assert purchase.points_reversed == 100
    assert ledger_selectors.balance(member.pk) == 0
    assert_wallet_matches_ledger(member.pk)
    assert_books_ok()


def test_return_of_a_purchase_from_a_closed_period(db: None, partner_a: Partner) -> None:
    # given a purchase made three weeks ago under the rules in force then, whose
    # ledger transaction has been sealed and lies below a settlement watermark
    now = timezone.now()
    then = now - timedelta(weeks=3)
    member = new_member()
    with in_partner(partner_a):
        publish(
            [("base_rate", {"rates": {"EUR": "1"}})],
            effective_from=then - timedelta(days=1),
            now=then - timedelta(days=1),
        )
        bought = purchase_record(
            receipt(member.pk, then, ReceiptLine("A", "food", 3, 1000)), now=then
        )
        earn_tx = Purchase.objects.get(pk=bought.purchase_id).ledger_transaction_id
        assert earn_tx is not None
        seal_all()
        watermark = ledger_selectors.safe_watermark()
        assert earn_tx <= watermark
        # when one item is returned today
        result = purchase_return(external_id=bought.external_id, lines={1: 1})
        returned = PurchaseReturn.objects.get(pk=result.return_id)
    # then the reversal is a new transaction above the watermark (the closed period
    # is not touched) and the sealed chain still verifies
    assert (result.points_reversed, result.shortfall) == (10, 0)
    assert returned.ledger_transaction_id is not None
    assert returned.ledger_transaction_id > watermark
    reversal = Transaction.objects.get(pk=returned.ledger_transaction_id)
    assert (reversal.kind, reversal.reverses_id) == ("earn_reversal", earn_tx)
    assert ledger_selectors.balance(member.pk) == 20
    assert_books_ok()


@pytest.mark.parametrize(
    ("external_id", "lines", "error"),
    [
        pytest.param("NO-SUCH-RECEIPT", {1: 1}, UnknownPurchase, id="unknown-purchase"),
        pytest.param(None, {4: 1}, InvalidReturn, id="unknown-line"),
        pytest.param(None, {1: 3}, InvalidReturn, id="more-than-bought"),
        pytest.param(None, {1: 2}, InvalidReturn, id="more-than-left"),
        pytest.param(None, {1: 1, 2: 2}, InvalidReturn, id="one-bad-line-of-two"),
        pytest.param(None, {1: 0}, InvalidReturn, id="zero-quantity"),
        pytest.param(None, {1: -1}, InvalidReturn, id="negative-quantity"),
        pytest.param(None, {}, InvalidReturn, id="no-lines"),
    ],
)
def test_invalid_return_is_refused_and_changes_nothing(
    db: None,
    partner_a: Partner,
    external_id: str | None,
    lines: dict[int, int],
    error: type[DomainError],
) -> None:
    # given a purchase of 2 + 1 items, one of the first line already returned
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        bought = purchase_record(
            receipt(
                member.pk, now, ReceiptLine("A", "food", 2, 1000), ReceiptLine("B", "food", 1, 500)
            ),
            now=now,
        )
        purchase_return(external_id=bought.external_id, lines={1: 1})
        before = (
            list(
                PurchaseLine.objects.filter(purchase_id=bought.purchase_id).values_list(
                    "line_number", "returned_quantity"
                )
            ),
            PurchaseReturn.objects.filter(purchase_id=bought.purchase_id).count(),
            Purchase.objects.get(pk=bought.purchase_id).points_reversed,
            PointsShortfall.objects.count(),
            max_transaction_id(),
            ledger_selectors.balance(member.pk),
        )
        # when an invalid return is asked for, then it is refused with a typed error
        with pytest.raises(error):
            purchase_return(external_id=external_id or bought.external_id, lines=lines)
        after = (
            list(
                PurchaseLine.objects.filter(purchase_id=bought.purchase_id).values_list(
                    "line_number", "returned_quantity"
                )
            ),
            PurchaseReturn.objects.filter(purchase_id=bought.purchase_id).count(),
            Purchase.objects.get(pk=bought.purchase_id).points_reversed,
            PointsShortfall.objects.count(),
            max_transaction_id(),
            ledger_selectors.balance(member.pk),
        )
    # and nothing changed: lines, returns, points, shortfalls, ledger
    assert after == before
    assert before[0] == [(1, 1), (2, 0)]
    assert_books_ok()


def test_return_replay_with_the_same_key(db: None, partner_a: Partner) -> None:
    # given a return made with an idempotency key
    now = timezone.now()
    member = new_member()
    key = IdempotencyKey("partner:alpha:returns", uid("RK"))
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        bought = purchase_record(
            receipt(member.pk, now, ReceiptLine("A", "food", 4, 1000)), now=now
        )
        first = purchase_return(external_id=bought.external_id, lines={1: 1}, idempotency=key)
        last_tx = max_transaction_id()
        # when it is retried, then the original result is returned and nothing posts
        again = purchase_return(external_id=bought.external_id, lines={1: 1}, idempotency=key)
        assert again == first
        assert again.replayed
        assert max_transaction_id() == last_tx
        # and the key with another return is refused
        with pytest.raises(IdempotencyKeyReused):
            purchase_return(external_id=bought.external_id, lines={1: 2}, idempotency=key)
        assert PurchaseLine.objects.get(purchase_id=bought.purchase_id).returned_quantity == 1
    assert ledger_selectors.balance(member.pk) == 30
    assert_books_ok()
