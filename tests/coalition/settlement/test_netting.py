"""Multilateral netting: the netted transfers settle every bilateral obligation
exactly, with at most one payment fewer than the partners that have a position."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from coalition.ledger import services as ledger
from coalition.settlement.services import Obligation, net_obligations
from tenants.partners.models import Partner
from tests.testkit.settlement import (
    assert_netting_settles,
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    onboard_partner,
    period_obligations,
    period_transfers,
    positions_paid,
)

obligation_rows = st.lists(
    st.tuples(
        st.sampled_from(["EUR", "GBP", "USD"]),
        st.integers(1, 7),
        st.integers(1, 7),
        st.integers(1, 5_000_000),
    ).filter(lambda row: row[1] != row[2]),
    max_size=40,
)


@settings(max_examples=300, deadline=None, database=None)
@given(rows=obligation_rows)
def test_net_obligations_settles_random_obligations_exactly(
    rows: list[tuple[str, int, int, int]],
) -> None:
    # given random obligations between up to 7 partners in up to 3 currencies
    obligations = [
        Obligation(c, debtor, creditor, amount, amount) for c, debtor, creditor, amount in rows
    ]
    # when they are netted
    transfers = net_obligations(obligations)
    # then the transfers settle every position exactly, with few payments
    assert_netting_settles(rows, transfers)


def test_a_cycle_nets_to_nothing_and_a_chain_to_one_payment() -> None:
    # A owes B 100, B owes C 100, C owes A 100: everyone is even
    cycle = [Obligation("EUR", 1, 2, 100, 100), Obligation("EUR", 2, 3, 100, 100),
             Obligation("EUR", 3, 1, 100, 100)]  # fmt: skip
    assert net_obligations(cycle) == []
    # A owes B 70 and B owes C 70: A pays C 70 directly
    chain = [Obligation("GBP", 1, 2, 70, 70), Obligation("GBP", 2, 3, 70, 70)]
    assert net_obligations(chain) == [("GBP", 1, 3, 70)]
    # two currencies are never netted against each other
    both = [Obligation("EUR", 1, 2, 50, 50), Obligation("GBP", 2, 1, 50, 50)]
    assert net_obligations(both) == [("EUR", 1, 2, 50), ("GBP", 2, 1, 50)]


def test_a_closed_period_nets_its_obligations_exactly(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given five partners (three in EUR, two in GBP) honouring each other's points
    c = onboard_partner("netc", "EUR")
    d = onboard_partner("netd", "EUR")
    e = onboard_partner("nete", "GBP")
    partners = [partner_a, partner_b, c, d, e]
    rates = ["0.8", "0.9", "0.45", "0.7", "1.1"]
    for partner, rate in zip(partners, rates, strict=True):
        known_terms(partner, issuance_price="1.0", reimbursement_rate=rate)
    close_everything_before()
    # each member earns at one partner and spends at the next ones
    members = [new_member("net") for _ in partners]
    for index, (member, issuer) in enumerate(zip(members, partners, strict=True)):
        ledger.earn(member_id=member, partner_id=issuer.pk, points=1000 + 100 * index)
        for step, redeemer in enumerate(partners[index + 1 :] + partners[:index]):
            ledger.burn(member_id=member, partner_id=redeemer.pk, points=37 * (step + 1) + index)

    # when the period closes
    period = close_now()

    # then each ordered pair of partners has one obligation per currency
    obligations = period_obligations(period)
    assert len(obligations) == 5 * 4
    assert {currency for currency, *_ in obligations} == {"EUR", "GBP"}
    # and the netted transfers settle them exactly, with at most n - 1 payments
    transfers = period_transfers(period)
    assert_netting_settles(obligations, transfers)
    assert 0 < len(transfers) < len(obligations)
    # and they are what net_obligations makes of the stored obligations
    stored = [Obligation(c_, d_, cr, 0, amount) for c_, d_, cr, amount in obligations]
    assert sorted(net_obligations(stored)) == sorted(transfers)
    # and every partner's position matches the obligations' gross totals
    gross: defaultdict[tuple[str, int], int] = defaultdict(int)
    for obligation in period.obligations.all():
        gross[(obligation.currency, obligation.creditor_id)] += obligation.amount
        gross[(obligation.currency, obligation.debtor_id)] -= obligation.amount
    assert {k: v for k, v in gross.items() if v} == positions_paid(transfers)
