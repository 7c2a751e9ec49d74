"""Points for a purchase: a pure function of the basket, the rules in force, the
campaigns and the member's context. No database, no clock: the same inputs give
the same breakdown, which is what makes a purchase reproducible and explainable.

Rules are composable strategies, evaluated in a fixed order of stages whatever
order they were created in:

1. eligibility  - excluded categories; tax and tips count only if the partner
                  says so; line discounts are already netted out;
2. money share  - only the part paid with money earns: every eligible amount is
                  scaled by (total - paid with points) / total;
3. base rate    - points per major currency unit, per currency;
4. multipliers  - per line: a SKU multiplier overrides its category's; several
                  for the same key: the highest applies;
5. bonuses      - fixed points per unit bought of a SKU or category;
6. minimum      - below the minimum eligible spend, rule points are zero;
7. tier         - the partner's multiplier for the member's tier;
8. rounding     - of the total, by the partner's policy (floor by default);
9. caps         - per receipt, then per member per day.

Campaigns come after the rules: each adds points (a multiplier's extra, a fixed
bonus, a category bonus, a first-purchase bonus) if it is running at the time of
purchase and targets the member's tier or segment. Each campaign's points are
rounded down and later clipped to its remaining budget by the service (under a
lock), so the engine reports what each campaign *wants* to give.

Attribution (``attribute_points``) then says which line earned which of the points
awarded, so a return can take back exactly what its units earned: line rules
belong to their line, receipt-level contributions are spread over the lines by
their points, and a largest-remainder split makes the parts add up to the award.
The module is longer than 500 lines because attribution lives here: it must apply
the very rule semantics the pricing applies (which multiplier wins, which bonus
matches, what is excluded); two copies would drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from loyalty_kernel.money import MINOR_UNITS
from tenants.earning.errors import EarningError, InvalidBasket, InvalidRule, UnsupportedCurrency

ROUNDING_MODES = {
    "floor": ROUND_FLOOR,
    "ceil": ROUND_CEILING,
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
}

RULE_KINDS = (
    "base_rate",  # {"rates": {"EUR": "1.0", "GBP": "1.5"}}  points per major unit
    "exclude_categories",  # {"categories": ["gift_cards", "tobacco"]}
    "include_tax",  # {}  tax earns too (excluded by default)
    "include_tips",  # {}  tips earn too (excluded by default)
    "category_multiplier",  # {"category": "fresh", "multiplier": "2"}
    "sku_multiplier",  # {"sku": "A1", "multiplier": "3"}
    "category_bonus",  # {"category": "coffee", "points_per_unit": 10}
    "sku_bonus",  # {"sku": "A1", "points_per_unit": 50}
    "minimum_spend",  # {"amounts": {"EUR": 500}}  minor units, eligible money
    "tier_multiplier",  # {"multipliers": {"gold": "1.5", "silver": "1.2"}}
    "rounding",  # {"mode": "floor" | "ceil" | "half_up" | "half_even"}
    "receipt_cap",  # {"points": 1000}
    "daily_cap",  # {"points": 2000}
)

CAMPAIGN_KINDS = (
    "multiplier",  # {"multiplier": "2"}  extra = (m - 1) x rule points before caps
    "bonus",  # {"points": 100}
    "category_multiplier",  # {"category": "fresh", "multiplier": "3"}  extra on that category
    "first_purchase_bonus",  # {"points": 500}
)


@dataclass(frozen=True)
class BasketLine:
    sku: str
    category: str
    quantity: int
    unit_price: int  # minor units
    discount: int = 0  # minor units, for the whole line

    @property
    def gross(self) -> int:
        return self.quantity * self.unit_price

    @property
    def net(self) -> int:
        return self.gross - self.discount


@dataclass(frozen=True)
class Basket:
    currency: str
    lines: tuple[BasketLine, ...]
    total: int  # minor units: sum of line nets + tax + tip
    tax: int = 0
    tip: int = 0
    paid_with_points: int = 0  # minor units of the total paid with points

    def validate(self) -> None:
        if self.currency not in MINOR_UNITS:
            raise UnsupportedCurrency(f"{self.currency!r} is not an ISO 4217 currency we know")
        if not self.lines:
            raise InvalidBasket("a purchase needs at least one line", field="lines")
        for number, line in enumerate(self.lines, start=1):
            if line.quantity <= 0:
                raise InvalidBasket(f"line {number}: quantity must be positive", field="lines")
            if line.unit_price < 0:
                raise InvalidBasket(f"line {number}: unit price is negative", field="lines")
            if not 0 <= line.discount <= line.gross:
                raise InvalidBasket(
                    f"line {number}: discount must be between 0 and the line amount",
                    field="lines",
                )
            if not line.sku or not line.category:
                raise InvalidBasket(f"line {number}: sku and category are required", field="lines")
        if self.tax < 0 or self.tip < 0:
            raise InvalidBasket("tax and tip cannot be negative", field="tax")
        expected = sum(line.net for line in self.lines) + self.tax + self.tip
        if self.total != expected:
            raise InvalidBasket(
                f"total {self.total} does not equal the lines, tax and tip ({expected})",
                field="total",
            )
        if not 0 <= self.paid_with_points <= self.total:
            raise InvalidBasket(
                "the part paid with points must be between 0 and the total",
                field="paid_with_points",
            )


@dataclass(frozen=True)
class Rule:
    id: int
    kind: str
    params: Mapping[str, Any]
    name: str = ""


@dataclass(frozen=True)
class Campaign:
    id: int
    kind: str
    params: Mapping[str, Any]
    starts_at: datetime
    ends_at: datetime
    tiers: frozenset[str] = frozenset()  # empty: every tier
    segments: frozenset[str] = frozenset()  # empty: everyone
    name: str = ""

    def applies(self, context: EarnContext) -> bool:
        if not self.starts_at <= context.occurred_at < self.ends_at:
            return False
        if self.tiers and context.tier not in self.tiers:
            return False
        return not (self.segments and not (self.segments & context.segments))


@dataclass(frozen=True)
class EarnContext:
    occurred_at: datetime
    tier: str | None = None
    segments: frozenset[str] = frozenset()
    is_first_purchase: bool = False
    points_earned_today: int = 0  # at this partner, for the daily cap


@dataclass(frozen=True)
class Contribution:
    source: str  # "rule" or "campaign"
    source_id: int | None
    kind: str
    description: str
    points: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "id": self.source_id,
            "kind": self.kind,
            "description": self.description,
            "points": str(self.points.normalize() if self.points else Decimal(0)),
        }


@dataclass
class Breakdown:
    rule_points: int = 0
    campaign_points: dict[int, int] = field(default_factory=dict)
    contributions: list[Contribution] = field(default_factory=list)
    eligible_amount: int = 0  # minor units of money that earned

    @property
    def total(self) -> int:
        return self.rule_points + sum(self.campaign_points.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_points": self.rule_points,
            "campaign_points": {str(key): value for key, value in self.campaign_points.items()},
            "total": self.total,
            "eligible_amount": self.eligible_amount,
            "contributions": [item.as_dict() for item in self.contributions],
        }


def _decimal(value: Any, rule: Rule, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except Exception:
        raise InvalidRule(f"rule {rule.id} ({rule.kind}): {name} is not a number") from None
    if not number.is_finite() or number < 0:
        raise InvalidRule(f"rule {rule.id} ({rule.kind}): {name} must be zero or more")
    return number


def validate_rule(rule: Rule) -> None:
    """Raise InvalidRule for a rule that could not be evaluated."""
    if rule.kind not in RULE_KINDS:
        raise InvalidRule(f"unknown rule kind {rule.kind!r}")
    params = rule.params
    if rule.kind == "base_rate":
        rates = params.get("rates")
        if not isinstance(rates, Mapping) or not rates:
            raise InvalidRule(f"rule {rule.id}: base_rate needs rates per currency")
        for currency, rate in rates.items():
            if currency not in MINOR_UNITS:
                raise InvalidRule(f"rule {rule.id}: unknown currency {currency!r}")
            _decimal(rate, rule, "rate")
    elif rule.kind in {"category_multiplier", "sku_multiplier"}:
        key = "category" if rule.kind == "category_multiplier" else "sku"
        if not params.get(key):
            raise InvalidRule(f"rule {rule.id}: {rule.kind} needs a {key}")
        _decimal(params.get("multiplier"), rule, "multiplier")
    elif rule.kind in {"category_bonus", "sku_bonus"}:
        key = "category" if rule.kind == "category_bonus" else "sku"
        if not params.get(key):
            raise InvalidRule(f"rule {rule.id}: {rule.kind} needs a {key}")
        _decimal(params.get("points_per_unit"), rule, "points_per_unit")
    elif rule.kind == "exclude_categories":
        if not isinstance(params.get("categories"), list | tuple):
            raise InvalidRule(f"rule {rule.id}: exclude_categories needs a list of categories")
    elif rule.kind == "minimum_spend":
        amounts = params.get("amounts")
        if not isinstance(amounts, Mapping):
            raise InvalidRule(f"rule {rule.id}: minimum_spend needs amounts per currency")
        for amount in amounts.values():
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise InvalidRule(
                    f"rule {rule.id}: minimum_spend amounts are whole minor units >= 0"
                )
    elif rule.kind == "tier_multiplier":
        multipliers = params.get("multipliers")
        if not isinstance(multipliers, Mapping):
            raise InvalidRule(f"rule {rule.id}: tier_multiplier needs multipliers per tier")
        for value in multipliers.values():
            _decimal(value, rule, "multiplier")
    elif rule.kind == "rounding":
        if params.get("mode") not in ROUNDING_MODES:
            raise InvalidRule(
                f"rule {rule.id}: rounding mode must be one of {list(ROUNDING_MODES)}"
            )
    elif rule.kind in {"receipt_cap", "daily_cap"}:
        points = params.get("points")
        if not isinstance(points, int) or isinstance(points, bool) or points < 0:
            raise InvalidRule(f"rule {rule.id}: {rule.kind} needs whole points >= 0")


def validate_campaign(campaign: Campaign) -> None:
    if campaign.kind not in CAMPAIGN_KINDS:
        raise InvalidRule(f"unknown campaign kind {campaign.kind!r}", field="kind")
    if campaign.ends_at <= campaign.starts_at:
        raise InvalidRule("a campaign must end after it starts", field="ends_at")
    params, as_rule = campaign.params, Rule(campaign.id, campaign.kind, campaign.params)
    if campaign.kind in {"multiplier", "category_multiplier"}:
        _decimal(params.get("multiplier"), as_rule, "multiplier")
        if campaign.kind == "category_multiplier" and not params.get("category"):
            raise InvalidRule("a category campaign needs a category", field="params")
    else:
        points = params.get("points")
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            raise InvalidRule("a bonus campaign needs whole points > 0", field="params")


def _of_kind(rules: Iterable[Rule], kind: str) -> list[Rule]:
    return [rule for rule in rules if rule.kind == kind]


def _highest(rules: Sequence[Rule], key: str, value: str) -> Rule | None:
    matching = [rule for rule in rules if rule.params.get(key) == value]
    return max(matching, key=lambda rule: Decimal(str(rule.params["multiplier"])), default=None)


def excluded_categories(rules: Iterable[Rule]) -> frozenset[str]:
    """The categories that earn nothing under these rules (stage 1): what pricing
    skips, and what a return of those lines therefore takes nothing back for."""
    return frozenset(
        c for r in _of_kind(rules, "exclude_categories") for c in r.params["categories"]
    )


def points_for_purchase(
    basket: Basket,
    rules: Sequence[Rule],
    campaigns: Sequence[Campaign],
    context: EarnContext,
) -> Breakdown:
    """Evaluate the rules and campaigns for one basket (see the module docstring)."""
    basket.validate()
    for rule in rules:
        validate_rule(rule)
    breakdown = Breakdown()
    contributions = breakdown.contributions
    unit = Decimal(10) ** MINOR_UNITS[basket.currency]

    # 3. base rate (needed first: no rate for the currency means no earning at all)
    base_rules = _of_kind(rules, "base_rate")
    rates = [r for r in base_rules if basket.currency in r.params["rates"]]
    if not rates:
        raise UnsupportedCurrency(f"this partner does not award points for {basket.currency}")
    base_rule = rates[-1]  # the latest created base rate wins
    rate = Decimal(str(base_rule.params["rates"][basket.currency]))

    # 1. eligibility
    excluded = excluded_categories(rules)
    eligible_lines = [line for line in basket.lines if line.category not in excluded]
    eligible_money = sum(line.net for line in eligible_lines)
    extras: list[tuple[str, int]] = []
    if _of_kind(rules, "include_tax") and basket.tax:
        extras.append(("tax", basket.tax))
    if _of_kind(rules, "include_tips") and basket.tip:
        extras.append(("tip", basket.tip))
    eligible_money += sum(amount for _, amount in extras)

    # 2. money share: the part paid with points never earns
    share = (
        Decimal(basket.total - basket.paid_with_points) / Decimal(basket.total)
        if basket.total
        else Decimal(0)
    )
    breakdown.eligible_amount = int(
        (Decimal(eligible_money) * share).to_integral_value(ROUND_FLOOR)
    )

    # 6. minimum spend (on the eligible money part)
    minimum = max(
        (
            int(r.params["amounts"].get(basket.currency, 0))
            for r in _of_kind(rules, "minimum_spend")
        ),
        default=0,
    )
    if breakdown.eligible_amount < minimum:
        contributions.append(
            Contribution(
                "rule", None, "minimum_spend",
                f"eligible spend {breakdown.eligible_amount} below minimum {minimum}",
                Decimal(0),
            )
        )  # fmt: skip
        return breakdown  # below the minimum nothing earns, campaigns neither

    # 3-4. base and multipliers per line
    category_multipliers = _of_kind(rules, "category_multiplier")
    sku_multipliers = _of_kind(rules, "sku_multiplier")
    rule_total = Decimal(0)
    base_total = Decimal(0)
    for line in eligible_lines:
        money = Decimal(line.net) * share / unit
        points = money * rate
        base_total += points
        multiplier_rule = _highest(sku_multipliers, "sku", line.sku) or _highest(
            category_multipliers, "category", line.category
        )
        if multiplier_rule is not None:
            extra = points * (Decimal(str(multiplier_rule.params["multiplier"])) - 1)
            contributions.append(
                Contribution(
                    "rule", multiplier_rule.id, multiplier_rule.kind,
                    f"x{multiplier_rule.params['multiplier']} on {line.sku}", extra,
                )
            )  # fmt: skip
            points += extra
        rule_total += points
    for _name, amount in extras:
        points = Decimal(amount) * share / unit * rate
        base_total += points
        rule_total += points
    contributions.insert(
        0,
        Contribution(
            "rule", base_rule.id, "base_rate",
            f"{rate} {'point' if rate == 1 else 'points'} per {basket.currency}", base_total,
        ),
    )  # fmt: skip

    # 5. fixed bonuses per unit
    for rule in _of_kind(rules, "sku_bonus") + _of_kind(rules, "category_bonus"):
        key = "sku" if rule.kind == "sku_bonus" else "category"
        units = sum(
            line.quantity for line in eligible_lines if getattr(line, key) == rule.params[key]
        )
        if units:
            bonus = Decimal(str(rule.params["points_per_unit"])) * units
            contributions.append(
                Contribution("rule", rule.id, rule.kind, f"{units} x {rule.params[key]}", bonus)
            )
            rule_total += bonus

    # 7. tier multiplier
    for rule in _of_kind(rules, "tier_multiplier"):
        if context.tier and context.tier in rule.params["multipliers"]:
            extra = rule_total * (Decimal(str(rule.params["multipliers"][context.tier])) - 1)
            contributions.append(
                Contribution("rule", rule.id, "tier_multiplier", f"tier {context.tier}", extra)
            )
            rule_total += extra

    # 8. rounding of the total
    rounding_rules = _of_kind(rules, "rounding")
    mode = rounding_rules[-1].params["mode"] if rounding_rules else "floor"
    rounded = int(rule_total.to_integral_value(ROUNDING_MODES[mode]))
    if Decimal(rounded) != rule_total:
        contributions.append(
            Contribution(
                "rule", rounding_rules[-1].id if rounding_rules else None, "rounding",
                f"rounded ({mode})", Decimal(rounded) - rule_total,
            )
        )  # fmt: skip
    pre_cap = Decimal(rounded)

    # 9. caps
    for kind in ("receipt_cap", "daily_cap"):
        for rule in _of_kind(rules, kind):
            limit = int(rule.params["points"])
            if kind == "daily_cap":
                limit = max(0, limit - context.points_earned_today)
            if rounded > limit:
                contributions.append(
                    Contribution(
                        "rule", rule.id, kind, f"capped at {limit}", Decimal(limit - rounded)
                    )
                )
                rounded = limit
    breakdown.rule_points = rounded
    category_base: dict[str, Decimal] = {}
    for line in eligible_lines:
        category_base[line.category] = (
            category_base.get(line.category, Decimal(0)) + Decimal(line.net) * share / unit * rate
        )
    return _apply_campaigns(breakdown, campaigns, context, pre_cap, category_base)


def _apply_campaigns(
    breakdown: Breakdown,
    campaigns: Sequence[Campaign],
    context: EarnContext,
    rule_points_before_caps: Decimal,
    category_base: Mapping[str, Decimal],
) -> Breakdown:
    for campaign in campaigns:
        validate_campaign(campaign)
        if not campaign.applies(context):
            continue
        wanted = Decimal(0)
        if campaign.kind == "multiplier":
            wanted = rule_points_before_caps * (Decimal(str(campaign.params["multiplier"])) - 1)
        elif campaign.kind == "bonus":
            wanted = Decimal(int(campaign.params["points"]))
        elif campaign.kind == "first_purchase_bonus":
            if context.is_first_purchase:
                wanted = Decimal(int(campaign.params["points"]))
        elif campaign.kind == "category_multiplier":
            base = category_base.get(campaign.params["category"], Decimal(0))
            wanted = base * (Decimal(str(campaign.params["multiplier"])) - 1)
        points = int(wanted.to_integral_value(ROUND_FLOOR))
        if points > 0:
            breakdown.campaign_points[campaign.id] = points
            breakdown.contributions.append(
                Contribution(
                    "campaign", campaign.id, campaign.kind, campaign.name or campaign.kind,
                    Decimal(points),
                )
            )  # fmt: skip
    return breakdown


# --- attribution: which line earned which points ----------------------------------------


@dataclass(frozen=True)
class LineAttribution:
    """The awarded points one line carries (``line`` counts from 1, receipt order).

    Its units share them by a cumulative floor: the first ``k`` of ``quantity``
    units returned carry ``points * k // quantity``. Any sequence of partial
    returns of the line therefore adds up to its points exactly, never more, and
    storing the line's points is enough to know every unit's part.
    """

    line: int
    quantity: int
    points: int

    def points_of_first_units(self, units: int) -> int:
        if not 0 <= units <= self.quantity:
            raise EarningError(f"line {self.line}: {units} of {self.quantity} units")
        return self.points * units // self.quantity

    def as_dict(self) -> dict[str, int]:
        return {"line": self.line, "quantity": self.quantity, "points": self.points}


def line_weights(basket: Basket, rules: Sequence[Rule]) -> tuple[list[int], list[int]]:
    """Each line's base points (base rate on the part paid with money) and its
    points from the line rules (stages 1-5: the base, the extra of the multiplier
    that applies to it, the per-unit bonuses of its SKU and category; zero for an
    excluded line), exactly, as whole numbers scaled by one common factor: they
    are weights, not awards. Integers because this runs on every purchase and
    fractions cost ten times more. A currency with no base rate weighs nothing."""
    rates = [r for r in _of_kind(rules, "base_rate") if basket.currency in r.params["rates"]]
    rate_n, rate_d = _ratio(rates[-1].params["rates"][basket.currency]) if rates else (0, 1)
    # base points of a line = net x paid_share x rate / unit = net x base_n / base_d
    paid, total = basket.total - basket.paid_with_points, basket.total or 1
    base_n = paid * rate_n
    base_d = total * rate_d * 10 ** MINOR_UNITS.get(basket.currency, 0)
    excluded = excluded_categories(rules)
    category_multipliers = _of_kind(rules, "category_multiplier")
    sku_multipliers = _of_kind(rules, "sku_multiplier")
    bonuses = _of_kind(rules, "sku_bonus") + _of_kind(rules, "category_bonus")
    # per line: (multiplier n, d), (bonus n, d); None for an excluded line
    terms: list[tuple[tuple[int, int], tuple[int, int]] | None] = []
    for line in basket.lines:
        if line.category in excluded:
            terms.append(None)
            continue
        multiplier_rule = _highest(sku_multipliers, "sku", line.sku) or _highest(
            category_multipliers, "category", line.category
        )
        multiplier = _ratio(multiplier_rule.params["multiplier"]) if multiplier_rule else (1, 1)
        bonus_n, bonus_d = 0, 1
        for rule in bonuses:
            key = "sku" if rule.kind == "sku_bonus" else "category"
            if getattr(line, key) == rule.params[key]:
                per_unit_n, per_unit_d = _ratio(rule.params["points_per_unit"])
                bonus_n = bonus_n * per_unit_d + per_unit_n * line.quantity * bonus_d
                bonus_d *= per_unit_d
        terms.append((multiplier, (bonus_n, bonus_d)))
    # one factor that makes every line's base, multiplier and bonus whole
    denominators = [m_d * b_d for (_, m_d), (_, b_d) in (t for t in terms if t is not None)]
    scale = base_d * math.lcm(1, *denominators)
    base, points = [], []
    for line, term in zip(basket.lines, terms, strict=True):
        if term is None:
            base.append(0)
            points.append(0)
            continue
        (m_n, m_d), (b_n, b_d) = term
        line_base = line.net * base_n * (scale // base_d)
        base.append(line_base)
        points.append(line_base * m_n // m_d + b_n * (scale // b_d))
    return base, points


def attribute_points(
    basket: Basket,
    rules: Sequence[Rule],
    campaigns: Sequence[Campaign],
    *,
    rule_points: int,
    campaign_points: Mapping[int, int],
) -> tuple[LineAttribution, ...]:
    """Split the awarded points (``rule_points`` plus the campaign points each
    campaign was *granted*) over the basket's lines.

    Line rules belong to their line. Everything decided on the whole receipt (tax
    and tip points, the tier multiplier, rounding, caps, bonus and multiplier
    campaigns) is spread in proportion to the lines' points; a category campaign
    over the lines of its category, in proportion to their base points (that is
    how it was computed). Where nothing weighs (every line excluded, say), a
    contribution is spread by the lines' money, and failing that by their units,
    so every awarded point belongs to some unit. The exact shares are rounded by
    largest remainder (ties to the earlier line): the parts add up exactly to the
    award, and each line is within one point of its exact share.
    """
    if rule_points < 0 or any(points < 0 for points in campaign_points.values()):
        raise EarningError("awarded points cannot be negative")
    base, by_points = line_weights(basket, rules)
    fallbacks = ([line.net for line in basket.lines], [line.quantity for line in basket.lines])
    categories = {
        c.id: c.params.get("category") for c in campaigns if c.kind == "category_multiplier"
    }
    parts: list[tuple[int, list[int]]] = [(rule_points, by_points)]
    for campaign_id, points in sorted(campaign_points.items()):
        category = categories.get(campaign_id)
        if category is None:
            parts.append((points, by_points))
        else:
            in_category = [
                weight if line.category == category else 0
                for line, weight in zip(basket.lines, base, strict=True)
            ]
            parts.append((points, in_category))
    # Exact shares as numerators over one common denominator: points x weight /
    # total weight, summed over the contributions.
    spread = []
    for points, preferred in parts:
        if points:
            weights = next(w for w in (preferred, *fallbacks) if sum(w) > 0)
            spread.append((points, weights, sum(weights)))
    denominator = math.lcm(*(total for _, _, total in spread), 1)
    exact = [
        sum(points * weights[index] * (denominator // total) for points, weights, total in spread)
        for index in range(len(basket.lines))
    ]
    awarded = rule_points + sum(campaign_points.values())
    split = _largest_remainder(awarded, exact, denominator)
    return tuple(
        LineAttribution(number, line.quantity, points)
        for number, (line, points) in enumerate(zip(basket.lines, split, strict=True), start=1)
    )


def _ratio(value: Any) -> tuple[int, int]:
    # Parsed as the pricing above parses it (Decimal of its text), then exact.
    return Decimal(str(value)).as_integer_ratio()


def _largest_remainder(total: int, numerators: Sequence[int], denominator: int) -> list[int]:
    """Whole parts of ``numerators / denominator`` (which sum to ``total``) that sum
    to ``total``: every part rounded down, then one more to the largest remainders."""
    parts = [numerator // denominator for numerator in numerators]
    left = total - sum(parts)
    order = sorted(
        range(len(numerators)), key=lambda index: (-(numerators[index] % denominator), index)
    )
    for index in order[:left]:
        parts[index] += 1
    return parts
