"""Adjustments settle like issuance: a closed period's statement bills the points a
partner added at its issuance price (and counts them in its fee on issued points),
and credits the points it took back at the same price; each line drills down to
exactly its adjustments."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from coalition.adjustments import services as adjustments
from coalition.adjustments.errors import AdjustmentExceedsBalance
from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.settlement.models import LineKind
from coalition.settlement.statements import line_transactions
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    statement_of,
)


def _adjust(partner: Partner, member_id: int, points: int) -> None:
    adjustments.adjust_points(
        partner=partner,
        member=Member.objects.get(pk=member_id),
        points=points,
        reason="settlement test",
        actor="tester",
        idempotency=IdempotencyKey("test:adjust", uuid.uuid4().hex),
    )


def test_a_closed_statement_values_adjustments_at_the_issuance_price(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    known_terms(partner_a, issuance_price="1.5", reimbursement_rate="0.8", fee_percent="10")
    close_everything_before()
    member = new_member("adjust-settle")
    ledger.earn(member_id=member, partner_id=partner_b.pk, points=500)
    ledger.earn(member_id=member, partner_id=partner_a.pk, points=1000)
    _adjust(partner_a, member, 400)
    _adjust(partner_a, member, 200)
    _adjust(partner_a, member, -300)

    period = close_now()

    statement = statement_of(period, partner_a)
    lines = {(line.kind, line.transaction_kind): line for line in statement.lines.all()}
    added = lines[(LineKind.ISSUED, "adjustment_credit")]
    assert (added.points, added.transactions, added.rate) == (600, 2, Decimal("1.5"))
    assert added.amount == 900  # 600 points x 1.5: the partner pays like issued points
    taken = lines[(LineKind.ISSUED_REVERSAL, "adjustment_debit")]
    assert (taken.points, taken.transactions, taken.amount) == (300, 1, -450)
    earned = lines[(LineKind.ISSUED, "earn")]
    assert (earned.points, earned.amount) == (1000, 1500)
    fee = lines[(LineKind.FEE_PERCENT, "")]
    assert fee.amount == 240  # 10% of the 2400 issued, adjustments included
    assert statement.net_amount == 1500 + 900 - 450 + 240
    for line in (added, taken):
        rows = line_transactions(line)
        assert sum(row.points for row in rows) == line.points
        assert {row.kind for row in rows} == {line.transaction_kind}


def test_a_debit_at_b_settles_on_b_only_and_leaves_a_s_issuance_alone(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given a member holding points from A and from B
    known_terms(partner_a, issuance_price="2", reimbursement_rate="0.8", fee_percent="0")
    known_terms(partner_b, issuance_price="1", reimbursement_rate="0.8", fee_percent="0")
    close_everything_before()
    member = new_member("adjust-settle-b")
    ledger.earn(member_id=member, partner_id=partner_a.pk, points=700)
    ledger.earn(member_id=member, partner_id=partner_b.pk, points=200)
    # when B takes back what it issued, and a try at more is refused
    _adjust(partner_b, member, -150)
    with pytest.raises(AdjustmentExceedsBalance):
        _adjust(partner_b, member, -51)

    period = close_now()

    # then B is credited for 150 points at its own price, and A's statement has no
    # reversal line: its 700 points are all still billed and outstanding
    b_lines = {
        (line.kind, line.transaction_kind): line
        for line in statement_of(period, partner_b).lines.all()
    }
    taken = b_lines[(LineKind.ISSUED_REVERSAL, "adjustment_debit")]
    assert (taken.points, taken.transactions, taken.amount) == (150, 1, -150)
    a_lines = {
        (line.kind, line.transaction_kind): line
        for line in statement_of(period, partner_a).lines.all()
    }
    assert (LineKind.ISSUED_REVERSAL, "adjustment_debit") not in a_lines
    assert a_lines[(LineKind.ISSUED, "earn")].points == 700
