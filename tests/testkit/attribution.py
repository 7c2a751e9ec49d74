"""Receipts drawn by Hypothesis for the attribution and returns properties, and
an oracle of what each line earned (import as ``tests.testkit.attribution``).

The oracle is written from the rules' definitions with exact fractions, apart
from the engine, for the rules these strategies draw: one rule of each kind at
most, gift cards the only excluded category, multipliers on SKU ``A`` and on
``fresh``, bonuses on SKU ``B`` and on ``dry``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from tenants.earning.engine import Basket, BasketLine, Campaign, Rule

AT = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def rule(rule_id: int, kind: str, **params: Any) -> Rule:
    return Rule(rule_id, kind, params)


def campaign(campaign_id: int, kind: str, **params: Any) -> Campaign:
    return Campaign(campaign_id, kind, params, AT - timedelta(days=1), AT + timedelta(days=1))


lines = st.lists(
    st.builds(
        lambda sku, category, quantity, price, discount_quarters: BasketLine(
            sku, category, quantity, price, quantity * price * discount_quarters // 4
        ),
        st.sampled_from("ABCD"),
        st.sampled_from(["fresh", "dry", "gift"]),
        st.integers(1, 5),
        st.integers(0, 5000),
        st.integers(0, 4),
    ),
    min_size=1,
    max_size=4,
)
base_rates = st.sampled_from(["0.5", "1", "1.4", "2.34"])
rules = st.lists(
    st.one_of(
        st.builds(
            lambda m: rule(2, "category_multiplier", category="fresh", multiplier=m),
            st.sampled_from(["0", "1.5", "2", "3"]),
        ),
        st.builds(
            lambda m: rule(3, "sku_multiplier", sku="A", multiplier=m),
            st.sampled_from(["0.5", "2", "4"]),
        ),
        st.builds(lambda p: rule(4, "sku_bonus", sku="B", points_per_unit=p), st.integers(1, 60)),
        st.builds(
            lambda p: rule(5, "category_bonus", category="dry", points_per_unit=p),
            st.integers(1, 60),
        ),
        st.just(rule(6, "exclude_categories", categories=["gift"])),
        st.just(rule(7, "include_tax")),
        st.builds(lambda p: rule(8, "receipt_cap", points=p), st.integers(0, 200)),
        st.builds(lambda m: rule(9, "rounding", mode=m), st.sampled_from(["ceil", "half_up"])),
    ),
    max_size=5,
    unique_by=lambda r: r.id,
)
campaigns = st.lists(
    st.one_of(
        st.builds(lambda m: campaign(11, "multiplier", multiplier=m), st.sampled_from(["2", "3"])),
        st.builds(lambda p: campaign(12, "bonus", points=p), st.integers(1, 100)),
        st.builds(lambda p: campaign(14, "first_purchase_bonus", points=p), st.integers(1, 100)),
        st.builds(
            lambda m: campaign(13, "category_multiplier", category="fresh", multiplier=m),
            st.sampled_from(["1.5", "3"]),
        ),
    ),
    max_size=3,
    unique_by=lambda c: c.id,
)
taxes = st.sampled_from([0, 0, 350])
paid_quarters = st.integers(0, 4)  # of the total, paid with points


def exact_line_shares(
    items: Basket, all_rules: list[Rule], all_campaigns: list[Campaign], awarded: dict[str, int]
) -> list[Fraction]:
    """What each line earned of the award, exactly: a line's points are its money
    share at the base rate, times its multiplier, plus its per-unit bonuses;
    receipt-level points (``awarded["rules"]`` and the campaigns' granted points,
    by campaign id) follow the line points; a category campaign follows the base
    points of its category; where nothing weighs, money, then units."""
    kinds = {r.kind: r for r in all_rules}
    rate = Fraction(kinds["base_rate"].params["rates"]["EUR"])
    paid = Fraction(items.total - items.paid_with_points, items.total) if items.total else 0
    excluded = "gift" if "exclude_categories" in kinds else None
    base, points = [], []
    for line in items.lines:
        if line.category == excluded:
            base.append(Fraction(0))
            points.append(Fraction(0))
            continue
        line_base = line.net * paid / 100 * rate
        multiplier = Fraction(1)
        if "sku_multiplier" in kinds and line.sku == "A":
            multiplier = Fraction(kinds["sku_multiplier"].params["multiplier"])
        elif "category_multiplier" in kinds and line.category == "fresh":
            multiplier = Fraction(kinds["category_multiplier"].params["multiplier"])
        bonus = 0
        if "sku_bonus" in kinds and line.sku == "B":
            bonus += kinds["sku_bonus"].params["points_per_unit"] * line.quantity
        if "category_bonus" in kinds and line.category == "dry":
            bonus += kinds["category_bonus"].params["points_per_unit"] * line.quantity
        base.append(line_base)
        points.append(line_base * multiplier + bonus)

    def spread(total: int, *weightings: list[Fraction]) -> list[Fraction]:
        for weights in weightings:
            if sum(weights) > 0:
                return [total * weight / sum(weights) for weight in weights]
        raise AssertionError("quantities are positive: units always weigh")

    money = [Fraction(line.net) for line in items.lines]
    units = [Fraction(line.quantity) for line in items.lines]
    shares = spread(awarded["rules"], points, money, units)
    for item in all_campaigns:
        granted = awarded.get(str(item.id), 0)
        if not granted:
            continue
        if item.kind == "category_multiplier":
            fresh = [
                b if line.category == "fresh" else Fraction(0)
                for line, b in zip(items.lines, base, strict=True)
            ]
            extra = spread(granted, fresh, points, money, units)
        else:
            extra = spread(granted, points, money, units)
        shares = [a + b for a, b in zip(shares, extra, strict=True)]
    return shares
