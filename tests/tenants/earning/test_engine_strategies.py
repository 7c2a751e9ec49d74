"""Table-driven tests of the pure earn engine (``points_for_purchase``): every
strategy alone and combined, the campaigns with their targeting and time windows,
currencies with 0, 2 and 3 minor units, and the breakdown that explains the result.

Amounts are minor units; the expected points are worked out by hand in each case's
comment, so a change in the engine's arithmetic or stage order makes a case fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tenants.earning.engine import (
    Basket,
    BasketLine,
    Breakdown,
    Campaign,
    EarnContext,
    InvalidBasket,
    Rule,
    UnsupportedCurrency,
    points_for_purchase,
)

AT = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
RATES = {"EUR": "1", "GBP": "1.5", "JPY": "0.01", "KWD": "3"}


def ln(
    sku: str = "A",
    category: str = "food",
    quantity: int = 1,
    unit_price: int = 1000,
    discount: int = 0,
) -> BasketLine:
    return BasketLine(sku, category, quantity, unit_price, discount)


def basket(
    *lines: BasketLine,
    currency: str = "EUR",
    tax: int = 0,
    tip: int = 0,
    paid_with_points: int = 0,
) -> Basket:
    total = sum(line.net for line in lines) + tax + tip
    return Basket(currency, tuple(lines), total, tax, tip, paid_with_points)


def base(rates: dict[str, str] | None = None, rule_id: int = 1) -> Rule:
    return Rule(rule_id, "base_rate", {"rates": rates or RATES})


def rule(rule_id: int, kind: str, **params: Any) -> Rule:
    return Rule(rule_id, kind, params)


def campaign(
    campaign_id: int,
    kind: str,
    *,
    starts_at: datetime = AT - timedelta(days=1),
    ends_at: datetime = AT + timedelta(days=1),
    tiers: tuple[str, ...] = (),
    segments: tuple[str, ...] = (),
    **params: Any,
) -> Campaign:
    return Campaign(
        campaign_id, kind, params, starts_at, ends_at, frozenset(tiers), frozenset(segments)
    )


@dataclass(frozen=True)
class Case:
    basket: Basket
    rules: tuple[Rule, ...]
    rule_points: int
    campaign_points: dict[int, int] = field(default_factory=dict)
    campaigns: tuple[Campaign, ...] = ()
    context: EarnContext = field(default_factory=lambda: EarnContext(occurred_at=AT))


def ctx(**values: Any) -> EarnContext:
    return EarnContext(occurred_at=values.pop("occurred_at", AT), **values)


CASES: dict[str, Case] = {
    # --- base rates and currencies ----------------------------------------------------
    # 12.34 EUR x 1 = 12.34 -> floor 12
    "base-eur": Case(basket(ln(unit_price=1234)), (base(),), 12),
    # 12.34 GBP x 1.5 = 18.51 -> 18
    "base-gbp": Case(basket(ln(unit_price=1234), currency="GBP"), (base(),), 18),
    # JPY has no minor unit: 1234 JPY x 0.01 = 12.34 -> 12 (not 0.1234)
    "jpy-0-minor-units": Case(basket(ln(unit_price=1234), currency="JPY"), (base(),), 12),
    # KWD has 3 minor units: 12.345 KWD x 3 = 37.035 -> 37 (not 370)
    "kwd-3-minor-units": Case(basket(ln(unit_price=12345), currency="KWD"), (base(),), 37),
    # the latest base rate for the currency wins: 10 EUR x 2 = 20
    "latest-base-rate-wins": Case(
        basket(ln()), (base({"EUR": "1"}), base({"EUR": "2"}, rule_id=2)), 20
    ),
    # --- multipliers ------------------------------------------------------------------
    # food 10 x 2 = 20, drinks 10 x 1 = 10
    "category-multiplier": Case(
        basket(ln("A", "food"), ln("B", "drinks")),
        (base(), rule(2, "category_multiplier", category="food", multiplier="2")),
        30,
    ),
    # SKU A (food) x3 overrides food x5: 30; SKU B (food) gets the category's x5: 50
    "sku-overrides-category": Case(
        basket(ln("A", "food"), ln("B", "food")),
        (
            base(),
            rule(2, "category_multiplier", category="food", multiplier="5"),
            rule(3, "sku_multiplier", sku="A", multiplier="3"),
        ),
        80,
    ),
    # two food multipliers: x4 wins over x2 whatever the order -> 40
    "highest-category-multiplier-wins": Case(
        basket(ln("A", "food")),
        (
            base(),
            rule(2, "category_multiplier", category="food", multiplier="4"),
            rule(3, "category_multiplier", category="food", multiplier="2"),
        ),
        40,
    ),
    # two SKU multipliers: x3 wins over x2 -> 30
    "highest-sku-multiplier-wins": Case(
        basket(ln("A", "food")),
        (
            base(),
            rule(2, "sku_multiplier", sku="A", multiplier="2"),
            rule(3, "sku_multiplier", sku="A", multiplier="3"),
        ),
        30,
    ),
    # --- per-unit bonuses -------------------------------------------------------------
    # 3 coffees at 2.00 = 6 base + 3 x 10 bonus = 36
    "category-bonus-per-unit": Case(
        basket(ln("ESPRESSO", "coffee", 3, 200)),
        (base(), rule(2, "category_bonus", category="coffee", points_per_unit=10)),
        36,
    ),
    # 2 x SKU A at 10.00 = 20 base + 2 x 50 = 120; SKU B earns no bonus
    "sku-bonus-per-unit": Case(
        basket(ln("A", "food", 2), ln("B", "food")),
        (base(), rule(2, "sku_bonus", sku="A", points_per_unit=50)),
        130,
    ),
    # --- exclusions, tax and tips ------------------------------------------------------
    # gift card 50.00 excluded (its SKU bonus too): only the 10.00 food line earns
    "excluded-category": Case(
        basket(ln("A", "food"), ln("GIFT", "gift_cards", 1, 5000)),
        (
            base(),
            rule(2, "exclude_categories", categories=["gift_cards", "tobacco"]),
            rule(3, "sku_bonus", sku="GIFT", points_per_unit=100),
        ),
        10,
    ),
    # 10.00 goods + 2.00 tax + 3.00 tip: by default only the goods earn
    "tax-and-tips-excluded-by-default": Case(basket(ln(), tax=200, tip=300), (base(),), 10),
    "include-tax": Case(basket(ln(), tax=200, tip=300), (base(), rule(2, "include_tax")), 12),
    "include-tips": Case(basket(ln(), tax=200, tip=300), (base(), rule(2, "include_tips")), 13),
    "include-tax-and-tips": Case(
        basket(ln(), tax=200, tip=300),
        (base(), rule(2, "include_tax"), rule(3, "include_tips")),
        15,
    ),
    # line discounts are netted out: 10.00 - 2.50 = 7.50 -> 7
    "line-discount-netted": Case(basket(ln(discount=250)), (base(),), 7),
    # --- minimum spend ----------------------------------------------------------------
    "below-minimum-spend": Case(
        basket(ln(unit_price=999)), (base(), rule(2, "minimum_spend", amounts={"EUR": 1000})), 0
    ),
    "at-minimum-spend": Case(
        basket(ln(unit_price=1000)), (base(), rule(2, "minimum_spend", amounts={"EUR": 1000})), 10
    ),
    # excluded lines do not count towards the minimum: 9.99 food + 50.00 gift card
    "minimum-spend-counts-eligible-money-only": Case(
        basket(ln(unit_price=999), ln("GIFT", "gift_cards", 1, 5000)),
        (
            base(),
            rule(2, "exclude_categories", categories=["gift_cards"]),
            rule(3, "minimum_spend", amounts={"EUR": 1000}),
        ),
        0,
    ),
    # a minimum in EUR does not apply to a GBP basket: 5.00 GBP x 1.5 = 7.5 -> 7
    "minimum-spend-other-currency": Case(
        basket(ln(unit_price=500), currency="GBP"),
        (base(), rule(2, "minimum_spend", amounts={"EUR": 1000})),
        7,
    ),
    # --- caps -------------------------------------------------------------------------
    "receipt-cap": Case(
        basket(ln(unit_price=3000)), (base(), rule(2, "receipt_cap", points=25)), 25
    ),
    "receipt-cap-not-reached": Case(
        basket(ln(unit_price=2000)), (base(), rule(2, "receipt_cap", points=25)), 20
    ),
    # 30 points, 90 already earned today of a 100 daily cap -> 10
    "daily-cap-partly-used": Case(
        basket(ln(unit_price=3000)),
        (base(), rule(2, "daily_cap", points=100)),
        10,
        context=ctx(points_earned_today=90),
    ),
    "daily-cap-used-up": Case(
        basket(ln(unit_price=3000)),
        (base(), rule(2, "daily_cap", points=100)),
        0,
        context=ctx(points_earned_today=120),
    ),
    "daily-cap-nothing-earned-yet": Case(
        basket(ln(unit_price=3000)), (base(), rule(2, "daily_cap", points=100)), 30
    ),
    # receipt cap 25 first, then the daily cap leaves 15 of it
    "receipt-then-daily-cap": Case(
        basket(ln(unit_price=3000)),
        (base(), rule(2, "receipt_cap", points=25), rule(3, "daily_cap", points=100)),
        15,
        context=ctx(points_earned_today=85),
    ),
    # --- rounding ---------------------------------------------------------------------
    "floor-is-the-default": Case(basket(ln(unit_price=1299)), (base(),), 12),
    "round-floor": Case(
        basket(ln(unit_price=1250)), (base(), rule(2, "rounding", mode="floor")), 12
    ),
    "round-ceil": Case(basket(ln(unit_price=1201)), (base(), rule(2, "rounding", mode="ceil")), 13),
    "round-half-up": Case(
        basket(ln(unit_price=1250)), (base(), rule(2, "rounding", mode="half_up")), 13
    ),
    "round-half-up-below-half": Case(
        basket(ln(unit_price=1249)), (base(), rule(2, "rounding", mode="half_up")), 12
    ),
    "round-half-even-down": Case(
        basket(ln(unit_price=1250)), (base(), rule(2, "rounding", mode="half_even")), 12
    ),
    "round-half-even-up": Case(
        basket(ln(unit_price=1350)), (base(), rule(2, "rounding", mode="half_even")), 14
    ),
    # rounding is of the total, not per line: 3 x 0.50 = 1.5 -> ceil 2 (per line: 3)
    "rounding-of-the-total": Case(
        basket(ln("A", unit_price=50), ln("B", unit_price=50), ln("C", unit_price=50)),
        (base(), rule(2, "rounding", mode="ceil")),
        2,
    ),
    # --- the part paid with points ------------------------------------------------------
    # 20.00 paid 5.00 with points: 15.00 earns
    "paid-with-points-never-earns": Case(
        basket(ln(unit_price=2000), paid_with_points=500), (base(),), 15
    ),
    # 10.00 goods + 10.00 (excluded) tax, half the total paid with points: 5 points
    "paid-with-points-scales-every-amount": Case(
        basket(ln(unit_price=1000), tax=1000, paid_with_points=1000), (base(),), 5
    ),
    "paid-entirely-with-points": Case(
        basket(ln(unit_price=2000), paid_with_points=2000),
        (base(), rule(2, "category_bonus", category="coffee", points_per_unit=10)),
        0,
    ),
    # --- tier multipliers -------------------------------------------------------------
    # (10 base + 10 bonus) x 1.5 for gold = 30
    "tier-multiplier-gold": Case(
        basket(ln("A", "coffee")),
        (
            base(),
            rule(2, "category_bonus", category="coffee", points_per_unit=10),
            rule(3, "tier_multiplier", multipliers={"gold": "1.5", "silver": "1.2"}),
        ),
        30,
        context=ctx(tier="gold"),
    ),
    "tier-multiplier-other-tier": Case(
        basket(ln()),
        (base(), rule(3, "tier_multiplier", multipliers={"gold": "1.5"})),
        10,
        context=ctx(tier="blue"),
    ),
    "tier-multiplier-no-tier": Case(
        basket(ln()), (base(), rule(3, "tier_multiplier", multipliers={"gold": "1.5"})), 10
    ),
    # --- campaigns --------------------------------------------------------------------
    # x2 campaign: an extra 1 x the 10 rule points
    "campaign-multiplier": Case(
        basket(ln()), (base(),), 10, {7: 10}, (campaign(7, "multiplier", multiplier="2"),)
    ),
    # the multiplier works on the rule points before caps: 30 capped at 25, extra 30
    "campaign-multiplier-before-caps": Case(
        basket(ln(unit_price=3000)),
        (base(), rule(2, "receipt_cap", points=25)),
        25,
        {7: 30},
        (campaign(7, "multiplier", multiplier="2"),),
    ),
    # x1.5 of 15 rule points: 7.5 -> campaign points are floored to 7
    "campaign-multiplier-rounded-down": Case(
        basket(ln(unit_price=1500)),
        (base(),),
        15,
        {7: 7},
        (campaign(7, "multiplier", multiplier="1.5"),),
    ),
    "campaign-bonus": Case(
        basket(ln()), (base(),), 10, {8: 100}, (campaign(8, "bonus", points=100),)
    ),
    # fresh 10.00 x (3 - 1) = 20 extra; the drinks line earns no extra
    "campaign-category-multiplier": Case(
        basket(ln("A", "fresh"), ln("B", "drinks")),
        (base(),),
        20,
        {9: 20},
        (campaign(9, "category_multiplier", category="fresh", multiplier="3"),),
    ),
    "campaign-category-multiplier-category-absent": Case(
        basket(ln("B", "drinks")),
        (base(),),
        10,
        {},
        (campaign(9, "category_multiplier", category="fresh", multiplier="3"),),
    ),
    "campaign-first-purchase-bonus": Case(
        basket(ln()),
        (base(),),
        10,
        {10: 500},
        (campaign(10, "first_purchase_bonus", points=500),),
        ctx(is_first_purchase=True),
    ),
    "campaign-first-purchase-bonus-not-first": Case(
        basket(ln()), (base(),), 10, {}, (campaign(10, "first_purchase_bonus", points=500),)
    ),
    "campaign-tier-targeted-hit": Case(
        basket(ln()),
        (base(),),
        10,
        {11: 50},
        (campaign(11, "bonus", points=50, tiers=("gold", "platinum")),),
        ctx(tier="gold"),
    ),
    "campaign-tier-targeted-miss": Case(
        basket(ln()),
        (base(),),
        10,
        {},
        (campaign(11, "bonus", points=50, tiers=("gold", "platinum")),),
        ctx(tier="silver"),
    ),
    "campaign-tier-targeted-no-tier": Case(
        basket(ln()), (base(),), 10, {}, (campaign(11, "bonus", points=50, tiers=("gold",)),)
    ),
    "campaign-segment-targeted-hit": Case(
        basket(ln()),
        (base(),),
        10,
        {12: 40},
        (campaign(12, "bonus", points=40, segments=("students",)),),
        ctx(segments=frozenset({"students", "newsletter"})),
    ),
    "campaign-segment-targeted-miss": Case(
        basket(ln()),
        (base(),),
        10,
        {},
        (campaign(12, "bonus", points=40, segments=("students",)),),
        ctx(segments=frozenset({"newsletter"})),
    ),
    "campaign-not-started": Case(
        basket(ln()),
        (base(),),
        10,
        {},
        (campaign(13, "bonus", points=40, starts_at=AT + timedelta(seconds=1)),),
    ),
    "campaign-starts-at-the-purchase": Case(
        basket(ln()), (base(),), 10, {13: 40}, (campaign(13, "bonus", points=40, starts_at=AT),)
    ),
    "campaign-ended-at-the-purchase": Case(
        basket(ln()), (base(),), 10, {}, (campaign(13, "bonus", points=40, ends_at=AT),)
    ),
    "campaign-ended-before": Case(
        basket(ln()),
        (base(),),
        10,
        {},
        (
            campaign(
                13,
                "bonus",
                points=40,
                starts_at=AT - timedelta(days=9),
                ends_at=AT - timedelta(days=2),
            ),
        ),
    ),
    # below the minimum spend neither the rules nor the campaigns earn
    "campaign-below-minimum-spend": Case(
        basket(ln(unit_price=500)),
        (base(), rule(2, "minimum_spend", amounts={"EUR": 1000})),
        0,
        {},
        (campaign(8, "bonus", points=100),),
    ),
    # --- everything together ------------------------------------------------------------
    # total 34.00, 3.40 paid with points: share 0.9; rate 1.5
    #   APPLE   fresh  3 x 1.99 = 5.97 -> 5.373 x 1.5 = 8.0595, fresh x2     -> 16.119
    #   SALMON  fresh 12.50 - 2.50 = 10 -> 9 x 1.5 = 13.5,    SKU x3 wins   -> 40.5
    #   COFFEE  coffee 2 x 3.40 = 6.80  -> 6.12 x 1.5                          -> 9.18
    #   CIGS    tobacco 8.00 excluded; tip 2.00 excluded; tax 1.23 -> 1.107 x 1.5 = 1.6605
    #   sum 67.4595 + coffee bonus 2 x 5 = 77.4595; gold x1.2 = 92.9514; half_up 93;
    #   receipt cap 90 -> 90.  Campaigns: bonus 25; x1.5 on the 93 before caps -> 46.5 -> 46;
    #   fresh x2 on fresh base (8.0595 + 13.5) -> 21.5595 -> 21; silver-only bonus: none.
    "everything-combined": Case(
        basket(
            ln("APPLE", "fresh", 3, 199),
            ln("SALMON", "fresh", 1, 1250, 250),
            ln("COFFEE", "coffee", 2, 340),
            ln("CIGS", "tobacco", 1, 800),
            tax=123,
            tip=200,
            paid_with_points=340,
        ),
        (
            base({"EUR": "1.5"}),
            rule(2, "category_multiplier", category="fresh", multiplier="2"),
            rule(3, "sku_multiplier", sku="SALMON", multiplier="3"),
            rule(4, "category_bonus", category="coffee", points_per_unit=5),
            rule(5, "exclude_categories", categories=["tobacco"]),
            rule(6, "include_tax"),
            rule(7, "tier_multiplier", multipliers={"gold": "1.2"}),
            rule(8, "rounding", mode="half_up"),
            rule(9, "receipt_cap", points=90),
        ),
        90,
        {21: 25, 22: 46, 23: 21},
        (
            campaign(21, "bonus", points=25),
            campaign(22, "multiplier", multiplier="1.5"),
            campaign(23, "category_multiplier", category="fresh", multiplier="2"),
            campaign(24, "bonus", points=99, tiers=("silver",)),
        ),
        ctx(tier="gold"),
    ),
}


def _run(case: Case) -> Breakdown:
    return points_for_purchase(case.basket, case.rules, case.campaigns, case.context)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_points_for_purchase(case: Case) -> None:
    # given a basket, the rules in force, the campaigns and the member's context
    # when the engine prices it
    breakdown = _run(case)
    # then the rules and each campaign give exactly the hand-computed points
    assert breakdown.rule_points == case.rule_points
    assert breakdown.campaign_points == case.campaign_points
    assert breakdown.total == case.rule_points + sum(case.campaign_points.values())


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_breakdown_contributions_add_up(case: Case) -> None:
    # given any priced basket
    breakdown = _run(case)
    # then the rule contributions (base, multipliers, bonuses, tier, rounding and cap
    # lines) sum exactly to the rule points, and each campaign's line to its points
    rule_lines = [c for c in breakdown.contributions if c.source == "rule"]
    assert sum((c.points for c in rule_lines), Decimal(0)) == breakdown.rule_points
    for campaign_id, points in breakdown.campaign_points.items():
        lines = [
            c
            for c in breakdown.contributions
            if c.source == "campaign" and c.source_id == campaign_id
        ]
        assert [c.points for c in lines] == [points]
    # and the breakdown serialises with the same totals
    data = breakdown.as_dict()
    assert data["rule_points"] == breakdown.rule_points
    assert data["total"] == breakdown.total
    assert sum(Decimal(c["points"]) for c in data["contributions"] if c["source"] == "rule") == (
        breakdown.rule_points
    )


def test_combined_breakdown_names_every_stage() -> None:
    # given the combined case
    breakdown = _run(CASES["everything-combined"])
    # then each stage that changed the points has its own line, with its rule id
    by_kind = {(c.kind, c.source_id): c.points for c in breakdown.contributions}
    assert by_kind[("base_rate", 1)] == Decimal("8.0595") + Decimal("13.5") + Decimal(
        "9.18"
    ) + Decimal("1.6605")
    assert by_kind[("category_multiplier", 2)] == Decimal("8.0595")
    assert by_kind[("sku_multiplier", 3)] == Decimal("27.0")
    assert by_kind[("category_bonus", 4)] == 10
    assert by_kind[("tier_multiplier", 7)] == Decimal("92.9514") - Decimal("77.4595")
    assert by_kind[("rounding", 8)] == 93 - Decimal("92.9514")
    assert by_kind[("receipt_cap", 9)] == -3
    assert breakdown.eligible_amount == 2160  # (5.97 + 10 + 6.80 + 1.23) x 0.9


@pytest.mark.parametrize(
    ("currency", "rates"),
    [
        pytest.param("USD", {"EUR": "1", "GBP": "1.5"}, id="iso-currency-without-a-rate"),
        pytest.param("GBP", {"EUR": "1"}, id="gbp-without-a-rate"),
        pytest.param("XYZ", {"EUR": "1"}, id="not-an-iso-currency"),
        pytest.param("eur", {"EUR": "1"}, id="lowercase-code"),
    ],
)
def test_currency_without_a_rate_is_unsupported(currency: str, rates: dict[str, str]) -> None:
    # given a basket in a currency the partner has no base rate for
    the_basket = basket(ln(), currency=currency)
    # when it is priced, then it is refused with a typed error
    with pytest.raises(UnsupportedCurrency):
        points_for_purchase(the_basket, (base(rates),), (), EarnContext(occurred_at=AT))


@pytest.mark.parametrize(
    "the_basket",
    [
        pytest.param(Basket("EUR", (ln(quantity=0),), 0), id="zero-quantity"),
        pytest.param(Basket("EUR", (ln(quantity=-1),), -1000), id="negative-quantity"),
        pytest.param(Basket("EUR", (ln(),), 999), id="total-does-not-add-up"),
        pytest.param(Basket("EUR", (ln(discount=1001),), -1), id="discount-above-line"),
        pytest.param(Basket("EUR", (ln(),), 1000, paid_with_points=1001), id="points-above-total"),
        pytest.param(Basket("EUR", (), 0), id="no-lines"),
    ],
)
def test_invalid_basket_is_refused(the_basket: Basket) -> None:
    # given a malformed basket, when priced, then InvalidBasket
    with pytest.raises(InvalidBasket):
        points_for_purchase(the_basket, (base(),), (), EarnContext(occurred_at=AT))


@pytest.mark.parametrize(
    ("rate", "described"),
    [("1", "1 point per EUR"), ("1.0", "1.0 point per EUR"), ("2", "2 points per EUR"),
     ("0.5", "0.5 points per EUR")],
)  # fmt: skip
def test_base_rate_line_reads_as_english(rate: str, described: str) -> None:
    # given a base rate, when a basket is priced, then the breakdown's line (shown
    # on the console's purchase page) says "point" for a rate of one
    breakdown = points_for_purchase(basket(ln()), (base({"EUR": rate}),), (),
                                    EarnContext(occurred_at=AT))  # fmt: skip
    assert [c.description for c in breakdown.contributions if c.kind == "base_rate"] == [described]
