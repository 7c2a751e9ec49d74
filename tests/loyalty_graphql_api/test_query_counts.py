"""Query counts: a member's history and the coalition catalogue cost the same
number of SQL statements for 5 items as for 50 (no query per row).

The ledger's reads (``coalition.ledger.selectors``: balance, lots, history) go
through Django's cursor, so ``CaptureQueriesContext`` sees them; only the
ledger's writes use the raw driver cursor. The history resolver is also checked
to call the ledger's history selector exactly once per member.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.members.models import Member
from tenants.partners.models import Partner
from tests.loyalty_graphql_api import _support as s

HISTORY = """query($number: String!) { member(lookup: {memberNumber: $number}) {
  memberNumber balance
  history(first: 50) {
    edges { cursor node { transactionId kind points partner memo externalRef createdAt } }
    pageInfo { hasNextPage endCursor } } } }"""
# The whole request, ``SET search_path`` included: domain, key, member, balance,
# history, each after its search path (10); the catalogue is one SELECT (2).
HISTORY_STATEMENTS = 10
CATALOGUE_STATEMENTS = 2


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
    assert few_count == many_count <= HISTORY_STATEMENTS
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
