"""Property, through the services on PostgreSQL: for any receipt (lines,
quantities, discounts, multipliers, bonuses, exclusions, tax, caps, rounding, the
part paid with points, campaigns with or without a budget) and any sequence of
partial returns, each return reverses what its units carry in the purchase's
stored attribution, the attribution is what each line earned (within a point of
its exact share, by an oracle apart from the engine), the points reversed never
exceed what the returned units earned, and returning everything reverses exactly
the award.

Examples: ``RETURNS_PROPERTY_EXAMPLES`` (default 40)."""

from __future__ import annotations

import itertools
import math
import os
from datetime import timedelta
from fractions import Fraction

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.ledger import selectors as ledger_selectors
from tenants.earning import services as earning
from tenants.earning.engine import Basket, BasketLine, Campaign, Rule
from tenants.partners.models import Partner
from tenants.purchases.services import ReceiptLine, purchase_record, purchase_return
from tests.testkit import attribution as drawn
from tests.testkit import in_partner
from tests.testkit.earning import new_member, publish, receipt

EXAMPLES = int(os.environ.get("RETURNS_PROPERTY_EXAMPLES", "40"))

# Each example prices at its own minute in the past, with a rule version taking
# effect then and campaigns running for that second only, so no example's rules
# or campaigns reach another's purchase.
_START = timezone.now() - timedelta(days=3)
_minutes = itertools.count()


def units_carry(carried: list[int], returned: list[int], lines: list[BasketLine]) -> int:
    """What the first ``returned`` units of each line carry of its points."""
    return sum(
        points * units // line.quantity
        for points, units, line in zip(carried, returned, lines, strict=True)
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=drawn.lines,
    rate=drawn.base_rates,
    rules=drawn.rules,
    campaigns=drawn.campaigns,
    budget=st.none() | st.integers(0, 40),
    tax=drawn.taxes,
    paid_quarters=drawn.paid_quarters,
    data=st.data(),
)
def test_returns_reverse_what_the_returned_units_earned(
    db: None,
    partner_a: Partner,
    lines: list[BasketLine],
    rate: str,
    rules: list[Rule],
    campaigns: list[Campaign],
    budget: int | None,
    tax: int,
    paid_quarters: int,
    data: st.DataObject,
) -> None:
    # given a purchase of any receipt under any rules and campaigns
    at = _START + timedelta(minutes=next(_minutes))
    total = sum(line.net for line in lines) + tax
    all_rules = [drawn.rule(1, "base_rate", rates={"EUR": rate}), *rules]
    member = new_member()
    with in_partner(partner_a):
        publish([(r.kind, dict(r.params)) for r in all_rules], effective_from=at, now=at)
        created = [
            earning.campaign_create(
                name=c.kind, kind=c.kind, params=dict(c.params), starts_at=at,
                ends_at=at + timedelta(seconds=1), budget_points=budget,
            )
            for c in campaigns
        ]  # fmt: skip
        bought = purchase_record(
            receipt(
                member.pk,
                at,
                *(
                    ReceiptLine(x.sku, x.category, x.quantity, x.unit_price, x.discount)
                    for x in lines
                ),
                tax=tax,
                paid_with_points=total * paid_quarters // 4,
            )
        )
        carried = [item["points"] for item in bought.breakdown["attribution"]]
        # then the stored attribution adds up to the award and is what each line
        # earned, to the point
        assert sum(carried) == bought.points
        exact = drawn.exact_line_shares(
            Basket("EUR", tuple(lines), total, tax, 0, total * paid_quarters // 4),
            all_rules,
            [Campaign(row.pk, row.kind, row.params, row.starts_at, row.ends_at) for row in created],
            {"rules": bought.rule_points, **bought.breakdown["campaign_points"]},
        )
        assert all(
            math.floor(share) <= points <= math.ceil(share)
            for points, share in zip(carried, exact, strict=True)
        ), (carried, exact)

        # when units come back in any sequence of partial returns, then the rest
        returned = [0] * len(lines)
        reversed_so_far = 0
        for last in [False] * data.draw(st.integers(0, 3), label="partial returns") + [True]:
            left = [n for n, line in enumerate(lines) if returned[n] < line.quantity]
            if not left:
                break
            if last:
                step = {n: lines[n].quantity - returned[n] for n in left}
            else:
                chosen = data.draw(st.sets(st.sampled_from(left), min_size=1), label="lines")
                step = {
                    n: data.draw(st.integers(1, lines[n].quantity - returned[n]), label="units")
                    for n in sorted(chosen)
                }
            before = units_carry(carried, returned, lines)
            for n, quantity in step.items():
                returned[n] += quantity
            after = units_carry(carried, returned, lines)
            result = purchase_return(
                external_id=bought.external_id, lines={n + 1: q for n, q in step.items()}
            )
            # then each return reverses exactly what its units carry, all of it
            # from the wallet (nothing was spent)
            assert (result.points_requested, result.points_reversed) == (after - before,) * 2
            assert result.shortfall == 0
            reversed_so_far += result.points_reversed
            # and never more than the returned units earned
            assert reversed_so_far <= sum(
                Fraction(points * units, line.quantity)
                for points, units, line in zip(carried, returned, lines, strict=True)
            )
            assert reversed_so_far <= bought.points
    # and once everything is back, exactly the award was reversed
    assert returned == [line.quantity for line in lines]
    assert reversed_so_far == bought.points
    assert ledger_selectors.balance(member.pk) == 0
    assert ledger_selectors.balance(member.pk) == sum(
        lot.remaining for lot in ledger_selectors.lots(member.pk)
    )
