"""Returns reverse the points the returned units earned (multipliers, per-unit
bonuses, category campaigns stay with their lines; receipt-level points follow
the lines' points), cumulatively (no rounding drift), never below zero (a
shortfall is recorded instead), also for a purchase from a closed period or one
recorded before attributions were stored; invalid returns change nothing."""

from __future__ import annotations

from datetime import timedelta

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
    RuleSpec,
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


FRESH_X2 = [
    ("base_rate", {"rates": {"EUR": "1"}}),
    ("category_multiplier", {"category": "fresh", "multiplier": "2"}),
]


def _fresh_and_dry(partner: Partner, member_id: int) -> str:
    """A purchase of 10.00 of fresh at x2 (20 points) and 10.00 of dry (10 points)."""
    now = timezone.now()
    with in_partner(partner):
        publish(FRESH_X2, effective_from=now, now=now)
        bought = purchase_record(
            receipt(
                member_id, now, ReceiptLine("F", "fresh", 1, 1000), ReceiptLine("D", "dry", 1, 1000)
            ),
            now=now,
        )
    assert bought.points == 30
    return bought.external_id


def test_returning_the_item_that_earned_double_reverses_all_it_earned(
    db: None, partner_a: Partner
) -> None:
    # given 10.00 of fresh at x2 (20 points) and 10.00 of dry (10 points)
    member = new_member()
    external_id = _fresh_and_dry(partner_a, member.pk)
    # when the fresh item comes back
    with in_partner(partner_a):
        result = purchase_return(external_id=external_id, lines={1: 1})
    # then the 20 points it earned are reversed (by money share it was 15), and
    # the member keeps the 10 the dry item earned
    assert (result.points_requested, result.points_reversed, result.shortfall) == (20, 20, 0)
    assert ledger_selectors.balance(member.pk) == 10
    assert_books_ok()


def test_returning_the_item_without_multiplier_reverses_only_what_it_earned(
    db: None, partner_a: Partner
) -> None:
    # given 10.00 of fresh at x2 (20 points) and 10.00 of dry (10 points)
    member = new_member()
    external_id = _fresh_and_dry(partner_a, member.pk)
    # when the dry item comes back
    with in_partner(partner_a):
        result = purchase_return(external_id=external_id, lines={2: 1})
    # then the 10 points it earned are reversed (by money share it was 15, taking
    # 5 the member earned on the fresh item they kept)
    assert (result.points_requested, result.points_reversed, result.shortfall) == (10, 10, 0)
    assert ledger_selectors.balance(member.pk) == 20
    assert_books_ok()


@pytest.mark.parametrize(
    ("rules", "campaign", "returned", "expected"),
    [
        # A: 2 x 5.00 with 50 a unit (110 points), B: 10.00 (10): one unit of A is 55
        pytest.param(
            [("sku_bonus", {"sku": "A", "points_per_unit": 50})], None, {1: 1}, 55, id="bonus-unit"
        ),
        pytest.param(
            [("sku_bonus", {"sku": "A", "points_per_unit": 50})], None, {2: 1}, 10, id="no-bonus"
        ),
        # a x3 campaign on A's category (20 extra on A's 10.00): A carries 30, B 10
        pytest.param(
            [],
            ("category_multiplier", {"category": "fresh", "multiplier": "3"}),
            {2: 1},
            10,
            id="category-campaign-elsewhere",
        ),
        # a receipt cap of 10 on 10 + 10 points: each line carries 5
        pytest.param([("receipt_cap", {"points": 10})], None, {2: 1}, 5, id="cap-shared"),
    ],
)
def test_a_return_reverses_what_the_returned_units_earned(
    db: None,
    partner_a: Partner,
    rules: list[RuleSpec],
    campaign: RuleSpec | None,
    returned: dict[int, int],
    expected: int,
) -> None:
    # given line 1 (A, fresh, 2 x 5.00) and line 2 (B, dry, 1 x 10.00) under rules
    # with a per-unit bonus, a category campaign or a cap
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}}), *rules], effective_from=now, now=now)
        if campaign is not None:
            earning.campaign_create(
                name="c", kind=campaign[0], params=campaign[1],
                starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
            )  # fmt: skip
        bought = purchase_record(
            receipt(
                member.pk, now, ReceiptLine("A", "fresh", 2, 500), ReceiptLine("B", "dry", 1, 1000)
            ),
            now=now,
        )
        # when those units come back
        result = purchase_return(external_id=bought.external_id, lines=returned)
    # then what they earned is reversed, and the member keeps the rest
    assert result.points_reversed == expected
    assert ledger_selectors.balance(member.pk) == bought.points - expected
    assert_books_ok()


def _as_recorded_before_attributions(external_id: str) -> None:
    """Drop the stored attribution, as purchases recorded before it have none."""
    purchase = Purchase.objects.get(external_id=external_id)
    breakdown = {key: value for key, value in purchase.breakdown.items() if key != "attribution"}
    Purchase.objects.filter(pk=purchase.pk).update(breakdown=breakdown)


def test_a_purchase_recorded_before_attributions_is_re_attributed(
    db: None, partner_a: Partner
) -> None:
    # given 10.00 of fresh at x2 (20 points) and 10.00 of dry (10 points),
    # recorded before attributions were stored
    member = new_member()
    external_id = _fresh_and_dry(partner_a, member.pk)
    with in_partner(partner_a):
        stored = Purchase.objects.get(external_id=external_id).breakdown["attribution"]
        _as_recorded_before_attributions(external_id)
        # when the fresh item comes back
        result = purchase_return(external_id=external_id, lines={1: 1})
    # then its points are re-attributed from the lines and the rule version it
    # earned under: the same 20 a purchase recorded today carries
    assert [line["points"] for line in stored] == [20, 10]
    assert result.points_reversed == 20
    assert ledger_selectors.balance(member.pk) == 10
    assert_books_ok()


def test_earlier_money_share_returns_are_caught_up_and_the_last_lands_on_the_award(
    db: None, partner_a: Partner
) -> None:
    # given a purchase recorded before attributions (fresh 1 x 10.00 at x2: 20
    # points; dry 2 x 10.00: 10 a unit) of which one dry unit was returned by
    # money share then (a third of 40: 13 points)
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish(FRESH_X2, effective_from=now, now=now)
        bought = purchase_record(
            receipt(
                member.pk, now, ReceiptLine("F", "fresh", 1, 1000), ReceiptLine("D", "dry", 2, 1000)
            ),
            now=now,
        )
        assert bought.points == 40
        _as_recorded_before_attributions(bought.external_id)
        purchase = Purchase.objects.get(pk=bought.purchase_id)
        assert purchase.ledger_transaction_id is not None
        ledger.reverse(transaction_id=purchase.ledger_transaction_id, points=13, memo="old return")
        Purchase.objects.filter(pk=purchase.pk).update(points_reversed=13)
        PurchaseLine.objects.filter(purchase=purchase, line_number=2).update(returned_quantity=1)
        # when the other dry unit comes back: both dry units carry 20, 13 of
        # which went back already
        second = purchase_return(external_id=bought.external_id, lines={2: 1})
        # and then the fresh item, the last of the purchase
        last = purchase_return(external_id=bought.external_id, lines={1: 1})
        purchase.refresh_from_db()
    # then the reversals catch up (7), and the last lands exactly on the award
    assert (second.points_reversed, last.points_reversed) == (7, 20)
    assert purchase.points_reversed == purchase.points_awarded == 40
    assert ledger_selectors.balance(member.pk) == 0
    assert_books_ok()


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([{1: 1}, {2: 1}, {3: 1}], [3, 2, 2], id="line-by-line"),
        pytest.param([{3: 1}, {1: 1}, {2: 1}], [2, 3, 2], id="line-by-line-other-order"),
        pytest.param([{1: 1, 2: 1}, {3: 1}], [5, 2], id="two-then-one"),
    ],
)
def test_repeated_partial_returns_add_up_to_the_award_without_drift(
    db: None, partner_a: Partner, steps: list[dict[int, int]], expected: list[int]
) -> None:
    # given 3 equal lines that earned 7 points (3.00 x 2.34 = 7.02 -> 7): a third
    # of 7 is not a whole number, so the lines carry 3, 2 and 2 (largest
    # remainder, the tie to the first line)
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
        assert [line["points"] for line in bought.breakdown["attribution"]] == [3, 2, 2]
        # when the lines are returned in several returns
        results = [purchase_return(external_id=bought.external_id, lines=step) for step in steps]
    # then each return reverses what its lines carry, and once everything is back
    # exactly the 7 awarded points were reversed
    assert [r.points_reversed for r in results] == expected
    assert sum(expected) == 7
    assert all(r.shortfall == 0 for r in results)
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


def test_excluded_lines_carry_no_points_when_other_lines_earned(
    db: None, partner_a: Partner
) -> None:
    # given gift cards (excluded) bought with 10.00 of food, and a 30-point bonus:
    # the food earned 10 points, and the bonus follows the line points
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
            name="bonus", kind="bonus", params={"points": 30},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
        )  # fmt: skip
        bought = purchase_record(
            receipt(
                member.pk,
                now,
                ReceiptLine("GIFT", "gift_cards", 2, 2500),
                ReceiptLine("F", "food", 1, 1000),
            ),
            now=now,
        )
        assert bought.points == 40
        # when the gift cards are returned, then no points are reversed
        cards = purchase_return(external_id=bought.external_id, lines={1: 2})
        assert (cards.points_requested, cards.points_reversed) == (0, 0)
        # when the food is, all 40 go back
        food = purchase_return(external_id=bought.external_id, lines={2: 1})
    assert (food.points_requested, food.points_reversed, food.shortfall) == (40, 40, 0)
    assert ledger_selectors.balance(member.pk) == 0
    assert_books_ok()


def test_points_of_a_receipt_of_excluded_lines_only_follow_the_money(
    db: None, partner_a: Partner
) -> None:
    # given a purchase of excluded gift cards only, which earned just a 40-point
    # campaign bonus (no line earned any points: the bonus is spread by money)
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
        # when one card is returned, then its half of the bonus is reversed
        first = purchase_return(external_id=bought.external_id, lines={1: 1})
        assert (first.points_requested, first.points_reversed) == (20, 20)
        # when the other one is, the rest goes back: exactly the 40 awarded
        last = purchase_return(external_id=bought.external_id, lines={1: 1})
    assert (last.points_requested, last.points_reversed, last.shortfall) == (20, 20, 0)
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
