"""Attribution of a purchase's points to its lines (``attribute_points``), pure:
line rules stay on their line, receipt-level contributions spread by the lines'
points, a category campaign over its category, and the whole-point split adds up
exactly to the award, each line within one point of its exact share.

The property test compares with an oracle written from the rules' definitions
(exact fractions, no rounding) rather than with the engine's own helpers.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenants.earning.engine import (
    Basket,
    BasketLine,
    Campaign,
    EarnContext,
    LineAttribution,
    Rule,
    attribute_points,
    points_for_purchase,
)
from tests.testkit import attribution as drawn
from tests.testkit.attribution import AT, campaign, rule


def basket(*lines: BasketLine, tax: int = 0, paid_with_points: int = 0) -> Basket:
    total = sum(line.net for line in lines) + tax
    return Basket("EUR", tuple(lines), total, tax, 0, paid_with_points)


BASE = rule(1, "base_rate", rates={"EUR": "1"})


def attributed(
    items: Basket, rules: list[Rule], campaigns: list[Campaign] | None = None, **granted: int
) -> list[int]:
    """The points per line for the award the engine computes (campaigns granted in
    full unless ``granted`` says c<ID>=points)."""
    breakdown = points_for_purchase(items, rules, campaigns or [], EarnContext(occurred_at=AT))
    campaign_points = {**breakdown.campaign_points}
    campaign_points.update({int(key[1:]): value for key, value in granted.items()})
    return [
        line.points
        for line in attribute_points(
            items,
            rules,
            campaigns or [],
            rule_points=breakdown.rule_points,
            campaign_points=campaign_points,
        )
    ]


@pytest.mark.parametrize(
    ("items", "rules", "campaigns", "expected"),
    [
        # 10.00 of fresh at x2 (20) next to 10.00 of dry (10): each keeps its own
        pytest.param(
            basket(BasketLine("F", "fresh", 1, 1000), BasketLine("D", "dry", 1, 1000)),
            [BASE, rule(2, "category_multiplier", category="fresh", multiplier="2")],
            [],
            [20, 10],
            id="multiplier-stays-on-its-line",
        ),
        # a SKU bonus of 50 a unit on two units of A (2 x 5 + 100) next to 10.00 of B
        pytest.param(
            basket(BasketLine("A", "dry", 2, 500), BasketLine("B", "dry", 1, 1000)),
            [BASE, rule(2, "sku_bonus", sku="A", points_per_unit=50)],
            [],
            [110, 10],
            id="per-unit-bonus-stays-on-its-line",
        ),
        # gift cards are excluded: they carry nothing, the 30-point bonus goes to food
        pytest.param(
            basket(BasketLine("G", "gift", 1, 5000), BasketLine("F", "food", 1, 1000)),
            [BASE, rule(2, "exclude_categories", categories=["gift"])],
            [campaign(7, "bonus", points=30)],
            [0, 40],
            id="excluded-line-carries-nothing",
        ),
        # a receipt cap of 30 on 20 + 40 points: each line keeps its share (10 + 20)
        pytest.param(
            basket(BasketLine("A", "dry", 1, 2000), BasketLine("B", "dry", 1, 4000)),
            [BASE, rule(2, "receipt_cap", points=30)],
            [],
            [10, 20],
            id="cap-spread-by-line-points",
        ),
        # a x3 campaign on fresh (20 extra on 10.00 of fresh) stays on fresh; a x2
        # campaign on everything (20 + 10 extra) spreads by line points
        pytest.param(
            basket(BasketLine("F", "fresh", 1, 1000), BasketLine("D", "dry", 1, 1000)),
            [BASE],
            [
                campaign(7, "category_multiplier", category="fresh", multiplier="3"),
                campaign(8, "multiplier", multiplier="2"),
            ],
            [10 + 20 + 10, 10 + 10],
            id="category-campaign-stays-on-its-category",
        ),
        # tax earns (10) and is spread by line points, 1:3
        pytest.param(
            basket(BasketLine("A", "dry", 1, 1000), BasketLine("B", "dry", 1, 3000), tax=1000),
            [BASE, rule(2, "include_tax")],
            [],
            [10 + 3, 30 + 7],  # 2.5 and 7.5: the tie goes to the earlier line
            id="tax-spread-by-line-points",
        ),
        # only excluded lines: the bonus is spread by money (1:3)
        pytest.param(
            basket(BasketLine("G", "gift", 1, 1000), BasketLine("H", "gift", 1, 3000)),
            [BASE, rule(2, "exclude_categories", categories=["gift"])],
            [campaign(7, "bonus", points=40)],
            [10, 30],
            id="nothing-weighs-spread-by-money",
        ),
        # free lines only: the bonus is spread by units (1:2, rounded to 3 + 7 = 10)
        pytest.param(
            basket(BasketLine("A", "free", 1, 0), BasketLine("B", "free", 2, 0)),
            [BASE],
            [campaign(7, "bonus", points=10)],
            [3, 7],
            id="no-money-spread-by-units",
        ),
        # 7 points over three equal lines: 2 each and the one left to the first
        pytest.param(
            basket(*(BasketLine(sku, "dry", 1, 100) for sku in "ABC")),
            [rule(1, "base_rate", rates={"EUR": "2.34"})],
            [],
            [3, 2, 2],
            id="largest-remainder-ties-to-the-earlier-line",
        ),
    ],
)
def test_attribution(
    items: Basket, rules: list[Rule], campaigns: list[Campaign], expected: list[int]
) -> None:
    # given a basket, its rules and campaigns; when its award is attributed,
    # then each line carries what it earned, and the parts add up to the award
    assert attributed(items, rules, campaigns) == expected


def test_a_budget_cut_campaign_attributes_what_was_granted() -> None:
    # given a x3 fresh campaign that wanted 20 but whose budget granted 5
    items = basket(BasketLine("F", "fresh", 1, 1000), BasketLine("D", "dry", 1, 1000))
    campaigns = [campaign(7, "category_multiplier", category="fresh", multiplier="3")]
    # when attributed, then fresh carries its 10 plus the 5 granted
    assert attributed(items, [BASE], campaigns, c7=5) == [15, 10]


@pytest.mark.parametrize(
    ("points", "quantity", "expected"),
    [(7, 5, [0, 1, 2, 4, 5, 7]), (10, 2, [0, 5, 10]), (0, 3, [0, 0, 0, 0]), (2, 1, [0, 2])],
)
def test_units_of_a_line_carry_its_points_by_cumulative_floor(
    points: int, quantity: int, expected: list[int]
) -> None:
    # given a line's points; when its first k units come back, then they carry
    # floor(points x k / quantity): all of them carry exactly the line's points
    line = LineAttribution(1, quantity, points)
    assert [line.points_of_first_units(k) for k in range(quantity + 1)] == expected


# --- the property -----------------------------------------------------------------------


@settings(max_examples=400, deadline=None, database=None)
@given(
    lines=drawn.lines,
    rate=drawn.base_rates,
    rules=drawn.rules,
    campaigns=drawn.campaigns,
    tax=drawn.taxes,
    paid_quarters=drawn.paid_quarters,
    budget_cut=st.integers(0, 3),
)
def test_attribution_adds_up_to_the_award_and_follows_what_each_line_earned(
    lines: list[BasketLine],
    rate: str,
    rules: list[Rule],
    campaigns: list[Campaign],
    tax: int,
    paid_quarters: int,
    budget_cut: int,
) -> None:
    # given any basket, rules and campaigns, some campaigns cut by their budget
    items = basket(*lines, tax=tax)
    items = Basket("EUR", items.lines, items.total, tax, 0, items.total * paid_quarters // 4)
    all_rules = [rule(1, "base_rate", rates={"EUR": rate}), *rules]
    breakdown = points_for_purchase(items, all_rules, campaigns, EarnContext(occurred_at=AT))
    granted = {
        key: value * (3 - budget_cut) // 3 for key, value in breakdown.campaign_points.items()
    }
    granted = {key: value for key, value in granted.items() if value}
    awarded = breakdown.rule_points + sum(granted.values())
    # when the award is attributed (twice)
    first = attribute_points(
        items, all_rules, campaigns, rule_points=breakdown.rule_points, campaign_points=granted
    )
    again = attribute_points(
        items, all_rules, campaigns, rule_points=breakdown.rule_points, campaign_points=granted
    )
    # then it is deterministic, adds up exactly, never negative, and each line is
    # within one point of its exact share
    assert first == again
    assert sum(line.points for line in first) == awarded
    assert all(line.points >= 0 for line in first)
    exact = drawn.exact_line_shares(
        items,
        all_rules,
        campaigns,
        {"rules": breakdown.rule_points, **{str(key): value for key, value in granted.items()}},
    )
    assert sum(exact) == awarded
    for line, share in zip(first, exact, strict=True):
        assert math.floor(share) <= line.points <= math.ceil(share), (line, share)
