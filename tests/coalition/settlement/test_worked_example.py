"""A worked example: three partners, two periods, every statement line computed by
hand the way a finance team would, and compared with what closing produces.

Terms (prices per point in minor units; fees on the issued amount; the breakage
share is a percentage of the issuance price of the expired points):

    partner       currency  issuance  reimbursement  fee %  fixed fee  breakage share
    A (Alpha)     EUR       1.0       0.8            2      500        50 %
    B (Beta)      GBP       1.2       0.9            1      0          25 %
    C (Gamma)     EUR       0.5       0.45           1.5    200        100 %

Rounding is half up, per line. The fixed fee is per calendar month: period 1
closes when this month ends and bills this month's, period 2 when the next month
ends and bills that one's.
"""

from __future__ import annotations

from decimal import Decimal

from coalition.ledger import services as ledger
from coalition.ledger.models import TransactionKind
from coalition.settlement import services as settlement
from coalition.settlement.models import LineKind, PaymentStatus, SettlementPeriod, StatementLine
from tenants.partners.models import Partner
from tests.testkit.settlement import (
    AFTER_EXPIRY,
    EARNED_AT,
    EXPIRES_AT,
    close_everything_before,
    close_now,
    known_terms,
    lines_of,
    month_end,
    nets_per_currency,
    new_member,
    onboard_partner,
    period_obligations,
    period_transfers,
    statement_of,
)

ISSUED, RETURNED = LineKind.ISSUED, LineKind.ISSUED_REVERSAL
REDEEMED, UNREDEEMED = LineKind.REDEEMED, LineKind.REDEEMED_REVERSAL
BREAKAGE, FEE, FIXED = LineKind.BREAKAGE_SHARE, LineKind.FEE_PERCENT, LineKind.FEE_FIXED


def test_two_periods_of_three_partners_match_the_hand_computation(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given three partners and their terms (table above)
    a, b = partner_a, partner_b
    c = onboard_partner("gamma", "EUR")
    known_terms(a, issuance_price="1.0", reimbursement_rate="0.8", fee_percent="2",
                fee_fixed=500, breakage_share_percent="50")  # fmt: skip
    known_terms(b, issuance_price="1.2", reimbursement_rate="0.9", fee_percent="1",
                fee_fixed=0, breakage_share_percent="25")  # fmt: skip
    known_terms(c, issuance_price="0.5", reimbursement_rate="0.45", fee_percent="1.5",
                fee_fixed=200, breakage_share_percent="100")  # fmt: skip
    before = close_everything_before()
    m1, m2, m3, m5 = (new_member("worked") for _ in range(4))

    # --- period 1: two earns ---------------------------------------------------------
    e1 = ledger.earn(member_id=m1, partner_id=a.pk, points=2000)
    e2 = ledger.earn(member_id=m2, partner_id=c.pk, points=1000)
    p1 = close_now(now=month_end())
    assert p1.number == before.number + 1

    # A: issued 2000 x 1.0 = 2000; fee 2% of 2000 = 40; fixed 500      -> pays 2540
    assert lines_of(statement_of(p1, a)) == sorted(
        [(ISSUED, 2000, 2000), (FEE, 0, 40), (FIXED, 0, 500)]
    )
    # C: issued 1000 x 0.5 = 500; fee 1.5% of 500 = 7.5 -> 8; fixed 200 -> pays 708
    assert lines_of(statement_of(p1, c)) == sorted(
        [(ISSUED, 1000, 500), (FEE, 0, 8), (FIXED, 0, 200)]
    )
    assert statement_of(p1, a).net_amount == 2540
    assert statement_of(p1, c).net_amount == 708
    # B had no events and has no fixed fee: no statement
    assert not p1.statements.filter(partner=b).exists()
    assert p1.coalition_margin == {"EUR": 2540 + 708}
    assert period_obligations(p1) == []
    assert period_transfers(p1) == []

    # --- period 2 ---------------------------------------------------------------------
    # m3's two lots (B 300, A 400) expire on 1 Jan 2001
    e3 = ledger.earn(
        member_id=m3, partner_id=b.pk, points=300, expires_at=EXPIRES_AT, now=EARNED_AT
    )
    e4 = ledger.earn(
        member_id=m3, partner_id=a.pk, points=400, expires_at=EXPIRES_AT, now=EARNED_AT
    )
    e5 = ledger.earn(member_id=m5, partner_id=c.pk, points=600)
    # burns: m1 spends 1200 of A's points at B; m2 300 of C's at A; m5 200 of C's at A
    b1 = ledger.burn(member_id=m1, partner_id=b.pk, points=1200)
    b2 = ledger.burn(member_id=m2, partner_id=a.pk, points=300)
    b3 = ledger.burn(member_id=m5, partner_id=a.pk, points=200)
    # a payment with points at C: 500 held from m1 (A's points), 350 captured
    hold = ledger.hold_authorize(member_id=m1, partner_id=c.pk, points=500)
    ledger.hold_capture(hold_id=int(hold.result["hold"]), points=350)
    # returns: 100 of the burn at B given back; 200 of this period's earn at C;
    # 100 of period 1's earn at C; 100 of period 1's earn at A
    r1 = ledger.reverse(transaction_id=b1.transaction_id, points=100)
    r2 = ledger.reverse(transaction_id=e5.transaction_id, points=200)
    r3 = ledger.reverse(transaction_id=e2.transaction_id, points=100)
    r4 = ledger.reverse(transaction_id=e1.transaction_id, points=100)
    # expiry: a sweep dated after 1 Jan 2001 expires m3's 300 + 400 points
    assert ledger.lots_expire(now=AFTER_EXPIRY) == 700
    p2 = close_now(now=month_end(months=2))
    assert p2.number == p1.number + 1

    # A (EUR)
    #   issued            e4: 400 x 1.0                       = +400
    #   returned earlier  r4: 100 x 1.0                       = -100
    #   redeemed          b2 + b3: 500 x 0.8                  = -400
    #   breakage share    400 expired x (1.0 x 50%)           = -200
    #   fee               2% of 400 issued                    =   +8
    #   fixed fee                                             = +500
    #   net                                                   = +208 (A pays)
    sa = statement_of(p2, a)
    assert lines_of(sa) == sorted([
        (ISSUED, 400, 400), (RETURNED, 100, -100), (REDEEMED, 500, -400),
        (BREAKAGE, 400, -200), (FEE, 0, 8), (FIXED, 0, 500),
    ])  # fmt: skip
    assert (sa.net_amount, sa.currency, sa.payment_status) == (208, "EUR", PaymentStatus.PENDING)

    # B (GBP)
    #   issued            e3: 300 x 1.2                       = +360
    #   redeemed          b1: 1200 x 0.9                      = -1080
    #   redeemed reversed r1: 100 x 0.9                       =  +90
    #   breakage share    300 expired x (1.2 x 25% = 0.3)     =  -90
    #   fee               1% of 360 = 3.6                     =   +4
    #   net                                                   = -716 (B receives)
    sb = statement_of(p2, b)
    assert lines_of(sb) == sorted([
        (ISSUED, 300, 360), (REDEEMED, 1200, -1080), (UNREDEEMED, 100, 90),
        (BREAKAGE, 300, -90), (FEE, 0, 4),
    ])  # fmt: skip
    assert (sb.net_amount, sb.currency, sb.payment_status) == (-716, "GBP", PaymentStatus.PENDING)

    # C (EUR)
    #   issued            e5: 600 x 0.5                       = +300
    #   returned          r2: 200 x 0.5 (this period's earn)  = -100
    #   returned earlier  r3: 100 x 0.5 (period 1's earn)     =  -50
    #   redeemed          capture: 350 x 0.45 = 157.5         = -158
    #   fee               1.5% of 300 = 4.5                   =   +5
    #   fixed fee                                             = +200
    #   net                                                   = +197 (C pays)
    sc = statement_of(p2, c)
    assert lines_of(sc) == sorted([
        (ISSUED, 600, 300), (RETURNED, 200, -100), (RETURNED, 100, -50),
        (REDEEMED, 350, -158), (FEE, 0, 5), (FIXED, 0, 200),
    ])  # fmt: skip
    assert (sc.net_amount, sc.currency) == (197, "EUR")

    # only these three partners have statements; the coalition keeps
    # EUR 208 + 197 = 405 and pays out GBP 716
    assert set(p2.statements.values_list("partner_id", flat=True)) == {a.pk, b.pk, c.pk}
    assert p2.coalition_margin == {"EUR": 405, "GBP": -716}
    assert nets_per_currency(p2) == p2.coalition_margin

    # returns of earlier periods' purchases say so on their line; this period's do not
    returned_a = sa.lines.get(kind=RETURNED)
    assert "earlier periods" in returned_a.description
    assert (returned_a.first_transaction_id, returned_a.last_transaction_id) == (
        r4.transaction_id, r4.transaction_id,
    )  # fmt: skip
    returned_c = {line.points: line for line in sc.lines.filter(kind=RETURNED)}
    assert "earlier periods" in returned_c[100].description
    assert "earlier periods" not in returned_c[200].description
    assert returned_c[200].first_transaction_id == r2.transaction_id
    assert returned_c[100].first_transaction_id == r3.transaction_id
    # the captured hold is told apart from burns, and each line keeps its audit trail
    assert "captured holds" in sc.lines.get(kind=REDEEMED).description
    redeemed_a: StatementLine = sa.lines.get(kind=REDEEMED)
    assert redeemed_a.transactions == 2
    assert redeemed_a.rate == Decimal("0.8")
    assert settlement.statement_transactions(redeemed_a) == [b2.transaction_id, b3.transaction_id]
    assert settlement.statement_transactions(sb.lines.get(kind=UNREDEEMED)) == [r1.transaction_id]
    breakage_b = sb.lines.get(kind=BREAKAGE)
    assert breakage_b.transactions == 1
    assert breakage_b.rate == Decimal("0.3")
    assert breakage_b.terms is not None
    assert breakage_b.terms.partner_id == b.pk
    assert e3.kind == e4.kind == TransactionKind.EARN

    # bilateral obligations: the issuer owes the redeemer, at the redeemer's rate
    #   A -> B  GBP  (1200 burned - 100 given back) = 1100 x 0.9 = 990
    #   C -> A  EUR  (300 + 200 burned)             =  500 x 0.8 = 400
    #   A -> C  EUR  350 captured x 0.45 = 157.5                  = 158
    assert sorted(period_obligations(p2)) == sorted([
        ("GBP", a.pk, b.pk, 990), ("EUR", c.pk, a.pk, 400), ("EUR", a.pk, c.pk, 158),
    ])  # fmt: skip
    points = {(o.debtor_id, o.creditor_id): o.points for o in p2.obligations.all()}
    assert points == {(a.pk, b.pk): 1100, (c.pk, a.pk): 500, (a.pk, c.pk): 350}
    # netted: in EUR, A is owed 400 - 158 = 242 by C: one transfer instead of two;
    # in GBP, A pays B 990
    assert sorted(period_transfers(p2)) == sorted(
        [("EUR", c.pk, a.pk, 242), ("GBP", a.pk, b.pk, 990)]
    )

    # and closing again changes nothing
    again = settlement.period_close(period=p2)
    assert again.pk == p2.pk
    assert SettlementPeriod.objects.filter(number__gt=p2.number, status="closed").count() == 0
