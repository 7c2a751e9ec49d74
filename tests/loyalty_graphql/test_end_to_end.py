"""A member's life across three partners and one settlement period, through the
HTTP API only: enrol at alpha, buy at alpha and at beta, redeem a reward at a
third partner, pay with points at beta, return part of the alpha purchase; the
operator closes the period and each partner reads its statement. The figures
must match the ledger, and the ledger must verify.

Only set-up uses services: settlement terms, rule versions, the reward, the
points-payment settings and the third partner itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.verification import verify
from coalition.settlement import services as settlement
from coalition.settlement.models import Statement
from tenants.partners.models import Partner
from tests.testkit import api as s

PRICES = {  # (issuance price, reimbursement rate), minor units per point
    "alpha": (Decimal("1.0"), Decimal("0.8")),
    "beta": (Decimal("1.2"), Decimal("0.9")),
    "third": (Decimal("1.1"), Decimal("0.7")),
}


def _money(points: int, rate: Decimal) -> int:
    return settlement.money(points, rate)


def _major(minor: int) -> str:
    return f"{Decimal(minor) / 100:.2f}"


def _lines(statement: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {line["kind"]: (line["points"], line["amount"]["amount"]) for line in statement["lines"]}


def _partner_entries(partner: Partner, start: int, end: int) -> dict[str, int]:
    """The sum of the partner's issuance and redemption entries in (start, end]."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.kind, sum(e.amount) FROM public.ledger_entry e
              JOIN public.ledger_account a ON a.id = e.account_id
             WHERE a.partner_id = %s AND e.transaction_id > %s AND e.transaction_id <= %s
             GROUP BY a.kind
            """,
            [partner.pk, start, end],
        )
        return {kind: int(total) for kind, total in cursor.fetchall()}


def test_a_members_journey_settles_to_the_ledgers_figures(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a third partner, everyone's settlement terms from this test's start
    # (terms first: a close forbids terms inside it), and the past closed
    third = s.onboard(prefix="third", currency="EUR")
    started = s.transaction_start()
    for partner, (price, rate) in zip((partner_a, partner_b, third), PRICES.values(), strict=True):
        settlement.terms_set(partner=partner, effective_from=started, issuance_price=price,
                             reimbursement_rate=rate)  # fmt: skip
    s.close_everything_before()
    # and: one point per unit at alpha and beta, a 50-point reward at the third
    # partner, and a point paying 1.00 GBP at beta
    s.publish_rules(partner_a)
    s.publish_rules(partner_b)
    reward = s.reward(third, 50)
    s.payment_settings(partner_b, "100")
    key_a, key_b, key_c = s.partner_key(partner_a), s.partner_key(partner_b), s.partner_key(third)
    host_c = s.host_of(third)
    operator = s.operator_key()

    # when: alpha enrols the member
    enrolled = s.gql(s.HOST_A, s.ENROL, {"key": "enrol", "email": f"{s.unique('life')}@x.org"},
                     key_a).payload("enrolMember")  # fmt: skip
    number = enrolled["member"]["memberNumber"]
    # and: the member spends 100.00 EUR at alpha (4 x 15.00 + 1 x 40.00) and 60.00 GBP at beta
    at_alpha = s.receipt(number, "EUR", [(4, 1500), (1, 4000)])
    bought_a = s.gql(s.HOST_A, s.RECORD_PURCHASE, {"key": "buy", "receipt": at_alpha}, key_a)
    at_beta = s.receipt(number, "GBP", [(1, 6000)])
    bought_b = s.gql(s.HOST_B, s.RECORD_PURCHASE, {"key": "buy", "receipt": at_beta}, key_b)
    # and: redeems a 50-point reward at the third partner and uses its voucher there
    redeemed = s.gql(host_c, s.REDEEM_REWARD, {"key": "redeem", "member": number,
                     "reward": reward}, key_c).payload("redeemReward")  # fmt: skip
    used = s.gql(host_c, s.CONSUME_VOUCHER, {"key": "use", "code": redeemed["voucher"]["code"]},
                 key_c).payload("consumeVoucher")  # fmt: skip
    # and: pays 30.00 GBP with points at beta (authorise, then capture)
    held = s.gql(s.HOST_B, s.AUTHORIZE_PAYMENT, {"key": "pay", "member": number, "amount": 3000},
                 key_b).payload("authorizePointsPayment")  # fmt: skip
    payment = held["payment"]["paymentId"]
    captured = s.gql(s.HOST_B, s.CAPTURE_PAYMENT, {"key": "capture", "payment": payment},
                     key_b).payload("capturePointsPayment")  # fmt: skip
    # and: brings one of the four 15.00 EUR items back to alpha
    returned = s.gql(s.HOST_A, s.RETURN_PURCHASE, {"key": "return", "externalId":
                     at_alpha["externalId"], "lines": [{"lineNumber": 1, "quantity": 1}]},
                     key_a).payload("returnPurchase")  # fmt: skip
    # and: the operator closes the period on the coalition host
    closed = s.gql(s.PUBLIC_HOST, s.CLOSE_PERIOD, {"key": "close"}, operator).payload("closePeriod")

    # then: every step worked, with the points the rules and prices say
    for payload in (enrolled, redeemed, used, held, captured, returned, closed):
        assert payload["errors"] == [], payload
    assert bought_a.payload("recordPurchase")["purchase"]["points"] == 100
    assert bought_b.payload("recordPurchase")["purchase"]["points"] == 60
    assert used["voucher"]["status"] == "consumed"
    assert (held["payment"]["points"], captured["payment"]["status"]) == (30, "captured")
    assert returned == {"pointsReversed": 15, "shortfall": 0, "errors": []}
    # and: the member's balance, read over the API, is what is left: 100 + 60 - 50 - 30 - 15
    member = s.gql(s.HOST_A, s.MEMBER_QUERY, {"lookup": {"memberNumber": number}},
                   key_a).payload("member")  # fmt: skip
    assert member["balance"] == 65
    assert ledger_selectors.balance(int(member["id"])) == 65

    # when: each partner reads its newest statement
    period = closed["period"]
    statements = {
        slug: s.gql(host, s.STATEMENTS_QUERY, {"last": 1}, key).payload("statements")[0]
        for slug, host, key in (("alpha", s.HOST_A, key_a), ("beta", s.HOST_B, key_b),
                                ("third", host_c, key_c))
    }  # fmt: skip

    # then: they are this period's, and their lines are the journey's points at the prices
    assert {st["period"] for st in statements.values()} == {period["number"]}
    (a_price, _), (b_price, b_rate), (_, c_rate) = PRICES.values()
    assert _lines(statements["alpha"]) == {
        "issued": (100, _major(_money(100, a_price))),
        "issued_reversal": (15, _major(-_money(15, a_price))),
    }
    assert _lines(statements["beta"]) == {
        "issued": (60, _major(_money(60, b_price))),
        "redeemed": (30, _major(-_money(30, b_rate))),
    }
    assert _lines(statements["third"]) == {"redeemed": (50, _major(-_money(50, c_rate)))}
    # and: issued minus returned is what the purchases awarded net of the return;
    # redeemed is the reward's price and the captured points
    alpha_lines = _lines(statements["alpha"])
    assert alpha_lines["issued"][0] - alpha_lines["issued_reversal"][0] == 100 - 15
    assert _lines(statements["third"])["redeemed"][0] == 50
    assert _lines(statements["beta"])["redeemed"][0] == captured["payment"]["points"]
    # and: each net is the sum of its lines, in the partner's currency
    for statement, currency in zip(statements.values(), ("EUR", "GBP", "EUR"), strict=True):
        total = sum(Decimal(line["amount"]["amount"]) for line in statement["lines"])
        assert statement["net"] == {"amount": f"{total:.2f}", "currency": currency}

    # then: the statements equal the partners' ledger entries in the period's range
    start, end = period["startWatermark"], period["endWatermark"]
    assert _partner_entries(partner_a, start, end) == {"issuance": -(100 - 15)}
    assert _partner_entries(partner_b, start, end) == {"issuance": -60, "redemption": 30}
    assert _partner_entries(third, start, end) == {"redemption": 50}
    # and: the period's margin per currency (read by the operator) is the sum of
    # the period's nets, ours among them
    periods = s.gql(s.PUBLIC_HOST, s.PERIODS_QUERY, {"last": 2}, operator).payload("periods")
    assert periods[1]["number"] == period["number"]
    margin = {m["currency"]: Decimal(m["amount"]) for m in periods[1]["coalitionMargin"]}
    nets: dict[str, Decimal] = {}
    for row in Statement.objects.filter(period__number=period["number"]):
        nets[row.currency] = nets.get(row.currency, Decimal(0)) + Decimal(row.net_amount) / 100
    for currency in set(margin) | set(nets):
        assert margin.get(currency, 0) == nets.get(currency, 0), currency
    ours = {"alpha": partner_a, "beta": partner_b, "third": third}
    for slug, statement in statements.items():
        row = Statement.objects.get(period__number=period["number"], partner=ours[slug])
        assert Decimal(statement["net"]["amount"]) == Decimal(row.net_amount) / 100
    # and: the whole ledger verifies (sums, balances, lots, hash chain)
    report = verify()
    assert report.ok, report.problems
