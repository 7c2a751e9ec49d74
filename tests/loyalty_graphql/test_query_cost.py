"""The API is not cheap to abuse: every field has a cost from the cost map
(aggregates such as ``liability`` are expensive), aliases are counted and
capped, root fields are capped, and anonymous callers get a far smaller budget.
A document over any limit is refused with ``query_too_complex`` before a
resolver runs or a statement reaches the database."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from graphql import get_introspection_query

from loyalty_graphql import limits, views
from loyalty_graphql.auth import member_token_issue
from loyalty_graphql.schema import coalition_schema, partner_schema
from tenants.partners.models import Partner
from tests.testkit import api as s


def _aliased(field: str, count: int) -> str:
    return "{ " + " ".join(f"a{index}: {field}" for index in range(count)) + " }"


def _refused_as_too_complex(reply: s.Reply) -> None:
    assert reply.status == 400, reply.body
    assert reply.body.get("data") is None
    assert set(reply.graphql_codes) == {"query_too_complex"}, reply.body


def _ledger_statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "ledger_" in q["sql"]]


def test_2000_aliased_liability_fields_are_refused_before_anything_runs(db: None) -> None:
    # given: the operator, whose one liability report reads the ledger
    key = s.operator_key()
    with CaptureQueriesContext(connection) as one:
        assert s.gql(s.PUBLIC_HOST, s.LIABILITY_QUERY, None, key).payload("liability")
    assert _ledger_statements(one), "the report reads the ledger"

    # when: a document asks for it 2,000 times under aliases
    document = _aliased("liability { outstandingPoints }", 2000)
    with CaptureQueriesContext(connection) as queries, \
            mock.patch.object(views, "execute", wraps=views.execute) as execute:  # fmt: skip
        reply = s.gql(s.PUBLIC_HOST, document, None, key)

    # then: refused with a typed code, naming the limits it broke; nothing executed
    # and no statement read the ledger (only the key was looked up)
    _refused_as_too_complex(reply)
    assert any("2000 aliases" in message for message in reply.messages), reply.messages
    assert any("query cost" in message for message in reply.messages), reply.messages
    execute.assert_not_called()
    assert _ledger_statements(queries) == []


def test_aliased_public_partner_lists_are_refused_without_a_single_statement(db: None) -> None:
    # when: an anonymous caller asks for the public partner list 2,000 times
    with CaptureQueriesContext(connection) as queries:
        reply = s.gql(s.PUBLIC_HOST, _aliased("partners { slug name }", 2000))

    # then: refused before the database was asked anything
    _refused_as_too_complex(reply)
    assert queries.captured_queries == []


def test_anonymous_callers_have_a_far_smaller_budget(db: None) -> None:
    # given: two full catalogue pages (2 x (20 + 1 + 100 x 6 + 4) = 1,250)
    page = "catalogue(first: 100) { edges { cursor node { partner code name pointsPrice } } " \
        "pageInfo { hasNextPage hasPreviousPage endCursor } }"  # fmt: skip
    document = f"{{ first: {page} second: {page} }}"
    member = s.enrol()

    # when: a member's app and an anonymous caller send it
    as_member = s.gql(s.PUBLIC_HOST, document, None, member_token_issue(member.pk))
    anonymous = s.gql(s.PUBLIC_HOST, document)

    # then: the member's runs, the anonymous one is over its budget
    assert as_member.status == 200, as_member.body
    _refused_as_too_complex(anonymous)
    limit = limits.cost_budget(anonymous=True)
    assert anonymous.messages == [f"query cost 1250 exceeds the limit of {limit}"]
    assert limits.cost_budget(anonymous=True) * 5 <= limits.cost_budget(anonymous=False)


def test_aliases_are_capped_per_document(db: None) -> None:
    # given: a cap of 3 aliases
    with override_settings(LOYALTY_GRAPHQL_MAX_ALIASES=3):
        # when: three cheap aliased fields, then four
        three = s.gql(s.PUBLIC_HOST, _aliased("partners { slug }", 3))
        four = s.gql(s.PUBLIC_HOST, _aliased("partners { slug }", 4))

    # then: three run; four are refused, cheap as they are
    assert three.status == 200, three.body
    _refused_as_too_complex(four)
    assert four.messages == ["the document has 4 aliases; at most 3 are allowed"]


def test_root_fields_are_capped_per_operation(db: None) -> None:
    # given: a cap of 3 root fields
    with override_settings(LOYALTY_GRAPHQL_MAX_ROOT_FIELDS=3):
        # when: an operation selects four root fields (one through a fragment)
        reply = s.gql(
            s.PUBLIC_HOST,
            "query { __typename partners { slug } ...more } "
            "fragment more on CoalitionQuery { catalogue { edges { cursor } } __typename }",
        )

    # then: refused
    _refused_as_too_complex(reply)
    assert reply.messages == ["the operation selects 4 root fields; at most 3"]


def test_fragments_spread_into_each_other_are_paid_for_their_expansion(db: None) -> None:
    # given: 30 fragments, each spreading the next twice (2^30 fields once expanded)
    fragments = [
        f"fragment f{index} on PartnerInfo {{ ...f{index + 1} ...f{index + 1} }}"
        for index in range(29)
    ]
    fragments.append("fragment f29 on PartnerInfo { slug }")
    document = "{ partners { ...f0 } } " + " ".join(fragments)

    # when: it is sent
    reply = s.gql(s.PUBLIC_HOST, document)

    # then: refused for its cost, which was measured without expanding it
    _refused_as_too_complex(reply)
    assert reply.messages[0].startswith("query cost ")


@pytest.mark.parametrize("schema", [coalition_schema, partner_schema], ids=["coalition", "partner"])
def test_every_root_field_has_a_deliberate_cost(schema: Any) -> None:
    # given: the root query fields of the schema
    query_type = schema.graphql_schema.query_type
    # then: each is in the cost map, so a new operation cannot ship at a default cost
    missing = [
        name for name in query_type.fields if (query_type.name, name) not in limits.FIELD_COSTS
    ]
    assert missing == []


def test_expensive_aggregates_cost_more_than_a_plain_lookup() -> None:
    # given / then: the aggregates are priced above a lookup by number
    costs = limits.FIELD_COSTS
    lookup = costs["PartnerQuery", "member"].cost
    for field in (("CoalitionQuery", "liability"), ("PartnerQuery", "livePosition"),
                  ("PartnerQuery", "statements"), ("PartnerQuery", "liability"),
                  ("MemberView", "history"), ("CoalitionQuery", "charityStatements")):  # fmt: skip
        assert costs[field].cost > lookup, field


def test_a_partner_app_alias_heavy_document_is_refused_on_its_host(
    db: None, partner_a: Partner
) -> None:
    # given: a partner key with every scope
    key = s.partner_key(partner_a)

    # when: it asks for its live position under 100 aliases
    with mock.patch.object(views, "execute", wraps=views.execute) as execute:
        reply = s.gql(s.HOST_A, _aliased("livePosition { period }", 100), None, key)

    # then: refused before anything ran
    _refused_as_too_complex(reply)
    execute.assert_not_called()


def test_graphiqls_introspection_query_runs_without_credentials(
    db: None, partner_a: Partner
) -> None:
    # given: the query GraphiQL sends on load (types nested eight deep under __schema)
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)

    # when: a browser sends it without credentials, on either host
    replies = [s.gql(host, query) for host in (s.PUBLIC_HOST, s.HOST_A)]

    # then: answered (introspection is not counted in the depth, as graphene did not)
    for reply in replies:
        assert reply.payload("__schema")["queryType"]["name"] in {"CoalitionQuery", "PartnerQuery"}


def test_introspection_that_fans_out_is_refused(db: None) -> None:
    # when: an introspection query nests the fields of fields of fields (each level
    # multiplies the answer by the schema's size)
    query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    reply = s.gql(s.PUBLIC_HOST, query)
    # then: refused by GraphQL's own introspection depth rule, with a code
    assert reply.status == 400, reply.body
    assert reply.graphql_codes == ["graphql_validation_failed"]
