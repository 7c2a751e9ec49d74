"""Every statement line drills down to exactly the journal transactions it counts,
even where ``compute_statements`` splits one range into several lines of one kind:
burns and captured holds (both "redeemed"), returns of this period's and of earlier
periods' earns, reversed redemptions of this period and of earlier ones."""

from __future__ import annotations

from collections import Counter

from coalition.ledger import services as ledger
from coalition.settlement import services as settlement
from coalition.settlement.models import LineKind, SettlementPeriod, StatementLine
from coalition.settlement.statements import line_transactions
from tenants.partners.models import Partner
from tests.testkit.settlement import (
    AFTER_EXPIRY,
    EARNED_AT,
    EXPIRES_AT,
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    statement_of,
)


def _period_with_every_kind(a: Partner, b: Partner) -> SettlementPeriod:
    known_terms(a, issuance_price="1.0", reimbursement_rate="0.8", fee_percent="2",
                breakage_share_percent="50")  # fmt: skip
    known_terms(b, issuance_price="1.2", reimbursement_rate="0.9", breakage_share_percent="25")
    close_everything_before()
    m1, m2, m3 = (new_member("drill") for _ in range(3))
    # period 1: earns and burns that period 2 reverses
    old_earn = ledger.earn(member_id=m1, partner_id=a.pk, points=3000)
    old_burn = ledger.burn(member_id=m1, partner_id=a.pk, points=400)
    close_now()
    # period 2: one transaction of every kind a line counts, at A
    new_earn = ledger.earn(member_id=m2, partner_id=a.pk, points=900)
    ledger.earn(member_id=m3, partner_id=a.pk, points=500, expires_at=EXPIRES_AT, now=EARNED_AT)
    ledger.earn(member_id=m3, partner_id=b.pk, points=200, expires_at=EXPIRES_AT, now=EARNED_AT)
    new_burn = ledger.burn(member_id=m1, partner_id=a.pk, points=300)
    ledger.burn(member_id=m2, partner_id=a.pk, points=100)
    hold = ledger.hold_authorize(member_id=m1, partner_id=a.pk, points=250)
    ledger.hold_capture(hold_id=int(hold.result["hold"]), points=170)
    ledger.reverse(transaction_id=new_earn.transaction_id, points=50)  # this period's
    ledger.reverse(transaction_id=new_earn.transaction_id, points=25)
    ledger.reverse(transaction_id=old_earn.transaction_id, points=70)  # an earlier period's
    ledger.reverse(transaction_id=new_burn.transaction_id, points=30)
    ledger.reverse(transaction_id=old_burn.transaction_id, points=40)
    assert ledger.lots_expire(now=AFTER_EXPIRY) == 700
    return close_now()


def test_the_transactions_of_every_line_add_up_to_the_line(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given a closed period with every kind of line at A (and a breakage line at B)
    period = _period_with_every_kind(partner_a, partner_b)
    lines = list(statement_of(period, partner_a).lines.all()) + list(
        statement_of(period, partner_b).lines.all()
    )
    # the period split lines of one kind apart
    kinds = Counter(line.kind for line in lines)
    assert kinds[LineKind.REDEEMED] == 2
    assert kinds[LineKind.ISSUED_REVERSAL] == 2
    assert kinds[LineKind.REDEEMED_REVERSAL] == 2
    assert kinds[LineKind.BREAKAGE_SHARE] == 2

    # when each line is drilled down (two at a time, to cross page boundaries)
    seen: set[int] = set()
    for line in lines:
        rows = _all_rows(line, page=2)
        # then its transactions add up exactly to its points and count
        assert sum(row.points for row in rows) == line.points, line.description
        assert len(rows) == line.transactions, line.description
        ids = [row.transaction_id for row in rows]
        assert ids == sorted(ids)
        if rows:
            assert (ids[0], ids[-1]) == (line.first_transaction_id, line.last_transaction_id)
            assert {row.kind for row in rows} == {line.transaction_kind}
        assert settlement.statement_transactions(line) == ids
        # and no transaction is behind two lines of one partner's account
        if line.account_kind:
            assert seen.isdisjoint(ids)
            seen.update(ids)


def test_returns_and_reversals_of_earlier_periods_are_their_own_lines(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given the same period
    period = _period_with_every_kind(partner_a, partner_b)
    statement = statement_of(period, partner_a)

    # when the reversal lines are read
    returned = {line.earlier_periods: line for line in statement.lines.filter(
        kind=LineKind.ISSUED_REVERSAL)}  # fmt: skip
    unredeemed = {line.earlier_periods: line for line in statement.lines.filter(
        kind=LineKind.REDEEMED_REVERSAL)}  # fmt: skip

    # then each drills down to its own reversals only
    assert [row.points for row in _all_rows(returned[False])] == [50, 25]
    assert [row.points for row in _all_rows(returned[True])] == [70]
    assert [row.points for row in _all_rows(unredeemed[False])] == [30]
    assert [row.points for row in _all_rows(unredeemed[True])] == [40]
    redeemed = {line.transaction_kind: line for line in statement.lines.filter(
        kind=LineKind.REDEEMED)}  # fmt: skip
    assert [row.points for row in _all_rows(redeemed["burn"])] == [300, 100]
    assert [row.points for row in _all_rows(redeemed["capture"])] == [170]
    # fee lines have no transactions
    fee = statement.lines.get(kind=LineKind.FEE_PERCENT)
    assert _all_rows(fee) == []


def _all_rows(line: StatementLine, page: int = 50) -> list:  # type: ignore[type-arg]
    rows = []
    after = None
    while True:
        chunk = line_transactions(line, after=after, limit=page)
        rows.extend(chunk)
        if len(chunk) < page:
            return rows
        after = chunk[-1].transaction_id
