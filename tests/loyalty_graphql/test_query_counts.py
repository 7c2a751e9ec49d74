"""Query counts: a member's history and the coalition catalogue cost the same
number of SQL statements for 5 items as for 50 (no query per row); a period's
netting costs the same for 1 pair as for 21.

Statements on the driver connection (``loyalty_kernel.driver_sql``: the hot
paths) are logged where Django logs its own, so ``CaptureQueriesContext`` counts
every statement of a request. The history resolver is also checked to call the
ledger's history selector exactly once per member. recordPurchase costs the same
statements for a one-line receipt as for a fifty-line one.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.settlement.models import BilateralObligation, NettedTransfer
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit.settlement import period_with_netting

HISTORY = """query($number: String!) { member(lookup: {memberNumber: $number}) {
  memberNumber balance
  history(first: 50) {
    edges { cursor node { transactionId kind points partner memo externalRef createdAt } }
    pageInfo { hasNextPage endCursor } } } }"""
# The whole request: the partner by host with the caller's key (one statement),
# then the member, the balance and the history page, and the SET search_path
# before the first of them (5); the catalogue is one SELECT (2).
HISTORY_STATEMENTS = 5
CATALOGUE_STATEMENTS = 2
# The request's own (the operator's key), then the period, its obligations and its
# transfers, each with its partners joined.
NETTING_STATEMENTS = 5


def _member_with_history(partners: tuple[Partner, ...], items: int) -> Member:
    member = s.enrol("history")
    for index in range(items):
        ledger.earn(member_id=member.pk, partner_id=partners[index % len(partners)].pk,
                    points=index + 1, external_ref=f"R{index}")  # fmt: skip
    return member


def _history_statements(key: str, member: Member) -> tuple[int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as captured:
        reply = s.gql(s.HOST_A, HISTORY, {"number": member.member_number}, key)
    return len(captured.captured_queries), reply.payload("member")


def test_member_history_costs_the_same_queries_for_5_and_50_items(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: one member with 5 wallet movements, one with 50, from two partners
    few = _member_with_history((partner_a, partner_b), 5)
    many = _member_with_history((partner_a, partner_b), 50)
    key = s.partner_key(partner_a, ["read"])
    s.gql(s.HOST_A, HISTORY, {"number": few.member_number}, key)  # the key's first use is noted

    # when: alpha's app reads both histories, counting statements and history calls
    with mock.patch.object(ledger_selectors, "history", wraps=ledger_selectors.history) as history:
        few_count, few_page = _history_statements(key, few)
        many_count, many_page = _history_statements(key, many)

    # then: every item is there, and the statements did not grow with them
    assert len(few_page["history"]["edges"]) == 5
    assert len(many_page["history"]["edges"]) == 50
    assert many_page["history"]["edges"][0]["node"]["partner"] == partner_b.name
    assert few_count == many_count == HISTORY_STATEMENTS, few_count
    # and: one history read per member, whatever its length
    assert [call.args[0] for call in history.call_args_list] == [few.pk, many.pk]


def test_catalogue_costs_the_same_queries_for_5_and_50_rewards(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: 5 tagged rewards and 50 others, from two partners
    few_tag, many_tag = s.unique("few"), s.unique("many")
    for index in range(5):
        s.reward((partner_a, partner_b)[index % 2], 10 + index, name=f"{few_tag} {index}")
    for index in range(50):
        s.reward((partner_a, partner_b)[index % 2], 10 + index, name=f"{many_tag} {index}")
    s.gql(s.PUBLIC_HOST, s.CATALOGUE_QUERY, {"first": 1})  # warm the host and caches

    # when: anyone reads a page of 50 of each
    counts, pages = [], []
    for tag in (few_tag, many_tag):
        with CaptureQueriesContext(connection) as captured:
            reply = s.gql(s.PUBLIC_HOST, s.CATALOGUE_QUERY, {"first": 50, "search": tag})
        counts.append(len(captured.captured_queries))
        pages.append(reply.payload("catalogue"))

    # then: all of them, both partners, and the same statements for both pages
    assert [len(page["edges"]) for page in pages] == [5, 50]
    assert {edge["node"]["partner"] for edge in pages[1]["edges"]} == {"alpha", "beta"}
    assert counts[0] == counts[1] <= CATALOGUE_STATEMENTS


# recordPurchase, the hottest write: the partner by host with the caller's key
# (one statement); then in one transaction the
# member's lock (found by number in the same statement), the pricing snapshot
# (which also tells whether a webhook listens: none here, so no delivery insert),
# the ledger earn and the receipt with all its lines (one statement). Inside the
# test's transaction the purchase's own transaction is a SAVEPOINT ... RELEASE
# pair, and Django's cursor for the SAVEPOINT first sets the search path (in
# production: an implicit BEGIN and a COMMIT, neither logged, and no SET). No
# tier levels: no tier check after the commit.
PURCHASE_STATEMENTS = 8


def _purchase_statements(key: str, member: Member, lines: int) -> tuple[int, list[str]]:
    basket = s.receipt(member.member_number, "EUR", [(1, 100 + n) for n in range(lines)])
    with CaptureQueriesContext(connection) as captured:
        reply = s.gql(s.HOST_A, s.RECORD_PURCHASE, {"key": s.unique("k"), "receipt": basket}, key)
    assert reply.payload("recordPurchase")["errors"] == []
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]


def test_record_purchase_costs_the_same_statements_for_1_and_50_lines(
    db: None, partner_a: Partner
) -> None:
    # given: alpha's rules, one member who has bought before, a key used before
    s.publish_rules(partner_a)
    member = s.enrol("counts")
    key = s.partner_key(partner_a, ["earn"])
    _purchase_statements(key, member, 1)

    # when: a one-line receipt and a fifty-line receipt are recorded
    one, one_sql = _purchase_statements(key, member, 1)
    fifty, _ = _purchase_statements(key, member, 50)

    # then: the same few statements, however long the receipt
    assert one == fifty == PURCHASE_STATEMENTS, "\n".join(sql[:90] for sql in one_sql)


def test_filtered_history_and_lots_cost_the_same_queries_for_5_and_50_items(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: members with 10 and 100 earns from two partners (5 and 50 of them alpha's)
    few = _member_with_history((partner_a, partner_b), 10)
    many = _member_with_history((partner_a, partner_b), 100)
    key = s.partner_key(partner_a, ["read"])
    since = s.transaction_start().isoformat()
    filters = {"kind": "EARN", "partner": "alpha", "occurredAfter": since, "first": 50}
    s.gql(s.HOST_A, s.MEMBER_HISTORY_QUERY, {"number": few.member_number, **filters}, key)

    # when: alpha's app reads both filtered histories and both members' lots, counting
    counts: dict[str, list[int]] = {"history": [], "lots": []}
    sizes: dict[str, list[int]] = {"history": [], "lots": []}
    for member in (few, many):
        for name, document, variables, field in (
            ("history", s.MEMBER_HISTORY_QUERY, filters, "memberHistory"),
            ("lots", s.MEMBER_LOTS_QUERY, {"first": 50}, "memberLots"),
        ):
            with CaptureQueriesContext(connection) as captured:
                reply = s.gql(
                    s.HOST_A, document, {"number": member.member_number, **variables}, key
                )
            counts[name].append(len(captured.captured_queries))
            sizes[name].append(len(reply.payload(field)[name]["edges"]))

    # then: the items the filters and page sizes allow, for the same statements
    assert sizes == {"history": [5, 50], "lots": [10, 50]}
    assert counts["history"][0] == counts["history"][1] <= HISTORY_STATEMENTS
    assert counts["lots"][0] == counts["lots"][1] <= HISTORY_STATEMENTS


def _netting_statements(key: str, number: int) -> tuple[int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as captured:
        reply = s.gql(s.PUBLIC_HOST, s.NETTING_QUERY, {"period": number}, key)
    return len(captured.captured_queries), reply.payload("netting")


def test_netting_costs_the_same_queries_for_1_and_21_pairs(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a closed period with one obligation and one transfer
    period = period_with_netting(partner_a, partner_b)
    key = s.operator_key()
    s.gql(s.PUBLIC_HOST, s.NETTING_QUERY, {"period": period.number}, key)  # the key's first use
    few_count, few = _netting_statements(key, period.number)

    # when: the period holds twenty more of each (the same partners, other currencies' rows)
    BilateralObligation.objects.bulk_create(
        BilateralObligation(period=period, currency="EUR", debtor=partner_b, creditor=partner_a,
                            points=10 + n, amount=5 + n)
        for n in range(20)
    )  # fmt: skip
    NettedTransfer.objects.bulk_create(
        NettedTransfer(period=period, currency="EUR", payer=partner_b, payee=partner_a,
                       amount=5 + n)
        for n in range(20)
    )  # fmt: skip
    many_count, many = _netting_statements(key, period.number)

    # then: every row is there, and the statements did not grow with them
    assert (len(few["obligations"]), len(many["obligations"])) == (1, 21)
    assert (len(few["transfers"]), len(many["transfers"])) == (1, 21)
    assert few_count == many_count == NETTING_STATEMENTS, few_count
