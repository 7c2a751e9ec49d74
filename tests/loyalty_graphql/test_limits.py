"""The API's safety limits and authentication failures, over HTTP: query depth
and cost, page sizes capped at 100, request size, per-key rate limiting,
introspection switched off, GraphQL's own validation, and 401s for revoked
keys, malformed headers and expired member tokens.

The validation rules are read from the settings on every request, so
``override_settings`` is enough to change a limit."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.core import signing
from django.test import override_settings

from loyalty_graphql.auth import MEMBER_TOKEN_SALT, api_key_create, api_key_revoke
from loyalty_graphql.auth import member_token_issue as issue
from tenants.partners.models import Partner
from tests.testkit import api as s

# Depth as graphene counts it: root fields are at 0, so ``kind`` is at depth 4.
DEEP = "{ me { history(first: 1) { edges { node { kind } } } } }"
CATALOGUE_PAGE = "{ catalogue(first: %d) { edges { node { code name } } } }"


def _validation_error(reply: s.Reply, words: str) -> None:
    assert reply.status == 400, reply.body
    assert "data" not in reply.body or reply.body["data"] is None
    assert any(words in message for message in reply.messages), reply.messages


# --- depth and cost ------------------------------------------------------------------------


def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(
    db: None, partner_a: Partner
) -> None:
    # given: a member, and a depth limit of 3
    token = issue(s.enrol().pk)
    limit = override_settings(LOYALTY_GRAPHQL_MAX_DEPTH=3)
    # when: a query 4 deep
    with limit, mock.patch("loyalty_graphql.members.types.ledger_selectors.history") as history:
        reply = s.gql(s.PUBLIC_HOST, DEEP, None, token)

    # then: a validation error, and nothing was resolved
    _validation_error(reply, "exceeds maximum operation depth of 3")
    history.assert_not_called()
    # and: at a limit of 4 (and the default 10) the same query runs
    with override_settings(LOYALTY_GRAPHQL_MAX_DEPTH=4):
        assert s.gql(s.PUBLIC_HOST, DEEP, None, token).payload("me")["history"]["edges"] == []
    assert s.gql(s.PUBLIC_HOST, DEEP, None, token).payload("me")["history"]["edges"] == []


def test_a_query_costing_more_than_the_limit_is_refused(db: None) -> None:
    # given: a cost limit of 50 for anonymous callers
    with override_settings(LOYALTY_GRAPHQL_ANONYMOUS_MAX_COST=50):
        # when: a page of 100 with two fields each (catalogue 20 + edges 1 + 100 x 3)
        refused = s.gql(s.PUBLIC_HOST, CATALOGUE_PAGE % 100)
        # and: a page of 5 (20 + 1 + 5 x 3 = 36)
        allowed = s.gql(s.PUBLIC_HOST, CATALOGUE_PAGE % 5)

    # then: the first is refused with its cost and a typed code, the second runs
    _validation_error(refused, "query cost 321 exceeds the limit of 50")
    assert refused.graphql_codes == ["query_too_complex"]
    assert "edges" in allowed.payload("catalogue")


def test_a_page_size_given_as_a_variable_costs_its_value(db: None) -> None:
    # given: a cost limit of 50 for anonymous callers, and the page size in a variable
    query = "query($n: Int) { catalogue(first: $n) { edges { node { code } } } }"
    with override_settings(LOYALTY_GRAPHQL_ANONYMOUS_MAX_COST=50):
        # when: the variable asks for 2 (catalogue 20 + edges 1 + 2 x 2 = 25), for 100
        # (221), or is left out (the default page of 20: 61)
        small = s.gql(s.PUBLIC_HOST, query, {"n": 2})
        large = s.gql(s.PUBLIC_HOST, query, {"n": 100})
        default = s.gql(s.PUBLIC_HOST, query, {})

    # then: the document is paid for with the request's page size
    assert small.payload("catalogue") == {"edges": []}
    _validation_error(large, "query cost 221 exceeds the limit of 50")
    _validation_error(default, "query cost 61 exceeds the limit of 50")
    assert large.graphql_codes == default.graphql_codes == ["query_too_complex"]


def test_a_negative_page_size_does_not_pay_for_another_field(db: None, partner_a: Partner) -> None:
    # given: a member with 100 wallet movements, and a cost limit of 150
    from coalition.ledger import services as ledger

    member = s.enrol()
    for _ in range(100):
        ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1)
    query = """{ a: me { history(first: -1000) { edges { cursor } } }
                 b: me { history(first: 100) { edges { node { kind points } } } } }"""
    with override_settings(LOYALTY_GRAPHQL_MAX_COST=150):
        # when: a negative page size is meant to offset an expensive sibling
        reply = s.gql(s.PUBLIC_HOST, query, None, issue(member.pk))

    # then: refused before anything runs (not: ``a`` fails and ``b`` serves 100 items)
    _validation_error(reply, "exceeds the limit of 150")


def test_first_above_100_is_capped_at_100(db: None, partner_a: Partner) -> None:
    # given: 105 tagged rewards
    tag = s.unique("cap")
    for index in range(105):
        s.reward(partner_a, 1 + index, name=f"{tag} {index}")

    # when: a client asks for 500 of them
    page = s.gql(s.PUBLIC_HOST, s.CATALOGUE_QUERY, {"first": 500, "search": tag})

    # then: it gets 100, and is told there are more
    catalogue = page.payload("catalogue")
    assert len(catalogue["edges"]) == 100
    assert catalogue["pageInfo"]["hasNextPage"] is True
    rest = s.gql(s.PUBLIC_HOST, s.CATALOGUE_QUERY, {"first": 500, "search": tag,
                 "after": catalogue["pageInfo"]["endCursor"]}).payload("catalogue")  # fmt: skip
    assert len(rest["edges"]) == 5


def test_member_history_first_above_100_is_capped_at_100(db: None, partner_a: Partner) -> None:
    # given: a member with 101 wallet movements
    from coalition.ledger import services as ledger

    member = s.enrol()
    for _ in range(101):
        ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1)

    # when: the member asks for 500 of them
    query = "{ me { history(first: 500) { edges { cursor } pageInfo { hasNextPage } } } }"
    history = s.gql(s.PUBLIC_HOST, query, None, issue(member.pk)).payload("me")["history"]

    # then: 100, and more to come
    assert len(history["edges"]) == 100
    assert history["pageInfo"]["hasNextPage"] is True


# --- request size and rate --------------------------------------------------------------------


def test_a_body_larger_than_the_limit_is_413(db: None) -> None:
    # given: a body limit of 1 KB
    padding = " " * 2048
    with override_settings(LOYALTY_GRAPHQL_MAX_BODY_BYTES=1024):
        # when: a 2 KB request arrives, and a small one
        big = s.gql(s.PUBLIC_HOST, "{ partners { slug } }" + padding)
        small = s.gql(s.PUBLIC_HOST, "{ partners { slug } }")

    # then: the big one is refused unread, the small one runs
    assert big.status == 413
    assert big.graphql_codes == ["invalid_input"]
    assert small.status == 200


def test_more_requests_than_the_rate_limit_in_one_second_are_429(
    db: None, partner_a: Partner
) -> None:
    # given: a limit of 2 requests per second per key, and the clock stopped
    key, other = s.partner_key(partner_a, ["read"]), s.partner_key(partner_a, ["read"])
    frozen = time.time() + 7_000_000  # a second no other test uses
    with (
        override_settings(LOYALTY_API_RATE_LIMIT=2),
        mock.patch("loyalty_graphql.limits.time.time", return_value=frozen),
    ):
        # when: three quick requests with one key, then one with another key
        statuses = [s.gql(s.HOST_A, s.REWARDS_QUERY, None, key) for _ in range(3)]
        another = s.gql(s.HOST_A, s.REWARDS_QUERY, None, other)

    # then: the third is refused with a typed code; the other key is not affected
    assert [reply.status for reply in statuses] == [200, 200, 429]
    assert statuses[2].graphql_codes == ["rate_limited"]
    assert another.status == 200
    # and: in the next second the key may call again
    with (
        override_settings(LOYALTY_API_RATE_LIMIT=2),
        mock.patch("loyalty_graphql.limits.time.time", return_value=frozen + 1),
    ):
        assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, key).status == 200


# --- introspection and standard validation ---------------------------------------------------


def test_introspection_can_be_switched_off(db: None) -> None:
    schema_query = "{ __schema { queryType { name } } }"
    type_query = '{ __type(name: "PartnerInfo") { name } }'
    # given: introspection on (the default): it answers
    assert s.gql(s.PUBLIC_HOST, schema_query).payload("__schema") == {
        "queryType": {"name": "CoalitionQuery"}
    }
    with override_settings(LOYALTY_GRAPHQL_INTROSPECTION=False):
        # when: it is switched off
        schema_reply = s.gql(s.PUBLIC_HOST, schema_query)
        type_reply = s.gql(s.PUBLIC_HOST, type_query)
        # and: a client asks for __typename, as Apollo and Relay clients always do
        typename = s.gql(s.PUBLIC_HOST, "{ partners { __typename slug } }")

    # then: the schema cannot be read, but ordinary queries still work
    _validation_error(schema_reply, "introspection")
    _validation_error(type_reply, "introspection")
    assert typename.status == 200, typename.body
    assert all(p["__typename"] == "PartnerInfo" for p in typename.payload("partners"))


@pytest.mark.parametrize(
    ("query", "words"),
    [("{ partners { slug nonsense } }", "Cannot query field 'nonsense'"),
     ("{ catalogue(first: \"ten\") { edges { cursor } } }", "Int cannot represent"),
     ("{ partners { slug } ", "Syntax Error")],
)  # fmt: skip
def test_standard_graphql_validation_still_applies(db: None, query: str, words: str) -> None:
    # when: a document with an unknown field, a wrongly typed argument or bad syntax
    reply = s.gql(s.PUBLIC_HOST, query)

    # then: a validation error
    _validation_error(reply, words)


def test_a_mutation_sent_with_get_is_refused(db: None) -> None:
    from django.test import Client

    # when: a mutation arrives as a GET (e.g. a prefetching link)
    response = Client(HTTP_HOST=s.PUBLIC_HOST).get(
        "/graphql",
        {"query": 'mutation { closePeriod(idempotencyKey: "g") { errors { code } } }'},
        HTTP_ACCEPT="application/json",
    )

    # then: refused, nothing runs
    assert response.status_code == 405


# --- authentication failures ---------------------------------------------------------------


def test_a_revoked_key_is_401(db: None, partner_a: Partner) -> None:
    # given: a key that worked, then was revoked
    row, key = api_key_create(name="old till", scopes=["read"], partner=partner_a)
    assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, key).status == 200
    api_key_revoke(key=row)

    # when: it is used again
    reply = s.gql(s.HOST_A, s.REWARDS_QUERY, None, key)

    # then: not authenticated
    assert reply.status == 401
    assert reply.graphql_codes == ["unauthenticated"]


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "lk_abc_def", "Bearer lk_nounderscores",
     "Bearer lk_abc_wrongsecret", "Bearer sk_live_something", "Bearer mt_not-signed"],
)  # fmt: skip
def test_a_malformed_or_unknown_credential_is_401(db: None, header: str) -> None:
    # when: the Authorization header is not a valid credential
    reply = s.gql(s.PUBLIC_HOST, s.PARTNERS_QUERY, None, authorization=header)

    # then: 401 with a typed code, even for an operation open to anonymous callers
    assert reply.status == 401, reply.body
    assert reply.graphql_codes == ["unauthenticated"]


def test_a_key_with_a_wrong_secret_is_401(db: None, partner_a: Partner) -> None:
    # given: a real key's prefix with another secret
    _, key = api_key_create(name="till", scopes=["read"], partner=partner_a)
    forged = key[: key.rindex("_") + 1] + "x" * 43

    # when / then: not authenticated
    assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, forged).status == 401


def test_an_expired_member_token_is_401(db: None) -> None:
    # given: a token issued 13 hours ago (they last 12)
    member = s.enrol()
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 13 * 3600):
        old = issue(member.pk)

    # when: the member's app uses it
    reply = s.gql(s.PUBLIC_HOST, s.ME_QUERY, None, old)

    # then: not authenticated; a fresh token works
    assert reply.status == 401
    assert reply.graphql_codes == ["unauthenticated"]
    assert s.gql(s.PUBLIC_HOST, s.ME_QUERY, None, issue(member.pk)).status == 200


def test_a_member_token_signed_for_another_purpose_is_401(db: None) -> None:
    # given: a value signed with the site's key but not as a member token
    member = s.enrol()
    forged = "mt_" + signing.TimestampSigner(salt="something-else").sign(str(member.pk))
    assert MEMBER_TOKEN_SALT != "something-else"

    # when / then: not authenticated
    assert s.gql(s.PUBLIC_HOST, s.ME_QUERY, None, forged).status == 401


# --- what errors reveal ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "query", "credential"),
    [(s.PUBLIC_HOST, "{ periods(last: -5) { number } }", "operator"),
     (s.HOST_A, "{ statements(last: -1) { period } }", "partner"),
     (s.PUBLIC_HOST, "{ catalogue(first: 0) { edges { cursor } } }", None),
     (s.PUBLIC_HOST, "query($n: Int) { periods(last: $n) { number } }", "operator")],
)  # fmt: skip
def test_a_page_size_below_one_is_a_typed_error_without_the_orms_words(
    db: None, partner_a: Partner, host: str, query: str, credential: str | None
) -> None:
    # given: the caller's credential
    token = {"operator": s.operator_key, "partner": lambda: s.partner_key(partner_a),
             None: lambda: None}[credential]()  # fmt: skip
    # when: it asks for a page of less than one item
    reply = s.gql(host, query, {"n": -3} if "$n" in query else None, token)
    # then: a typed error naming the argument, not the ORM's message
    assert reply.graphql_codes == ["invalid_input"], reply.body
    assert reply.messages[0] in {"first must be at least 1", "last must be at least 1"}
    assert not any("Negative indexing" in message for message in reply.messages)


@pytest.mark.parametrize(
    ("query", "variables"),
    [("{ partnerz { slug } }", None),
     ("{ partners { slugg } }", None),
     ("{ catalogue(frist: 1) { edges { cursor } } }", None),
     ("query($k: LedgerTransactionKind) { me { history(kind: $k) { edges { cursor } } } }",
      {"k": "EARNN"})],
)  # fmt: skip
def test_suggestions_do_not_reveal_the_schema_when_introspection_is_off(
    db: None, query: str, variables: dict[str, str] | None
) -> None:
    # given: introspection on, the error suggests a name from the schema
    token = issue(s.enrol().pk)
    assert any("Did you mean" in m for m in s.gql(s.PUBLIC_HOST, query, variables, token).messages)
    # when: introspection is off
    with override_settings(LOYALTY_GRAPHQL_INTROSPECTION=False):
        reply = s.gql(s.PUBLIC_HOST, query, variables, token)
    # then: the same error, typed, without the suggestion
    assert reply.status == 400, reply.body
    assert reply.messages
    assert not any("Did you mean" in m for m in reply.messages)
    assert all(code for code in reply.graphql_codes)


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ partners { slug } ", "graphql_parse_failed"),
     ("{ partners { nonsense } }", "graphql_validation_failed"),
     ('{ catalogue(first: "ten") { edges { cursor } } }', "graphql_validation_failed"),
     ("query($n: Int!) { catalogue(first: $n) { edges { cursor } } }", "invalid_input"),
     ("query A { partners { slug } } query B { partners { name } }", "invalid_input")],
)  # fmt: skip
def test_every_refused_document_has_a_code(db: None, query: str, code: str) -> None:
    # when: a document with bad syntax, an unknown field, a wrongly typed argument,
    # a missing variable, or two operations and no operation name
    reply = s.gql(s.PUBLIC_HOST, query)
    # then: a 400 whose every error names its code
    assert reply.status == 400, reply.body
    assert reply.graphql_codes == [code] * len(reply.graphql_codes), reply.body


def test_insufficient_points_names_no_internal_id(db: None, partner_a: Partner) -> None:
    # given: a member with 5 points, a reward of 10, and a friend
    member = s.funded_member(partner_a, 5, "short")
    friend = s.enrol("friend")
    code = s.reward(partner_a, 10)
    key = s.partner_key(partner_a)

    # when: the member redeems the reward at a till, and transfers 10 points in the app
    redeemed = s.gql(
        s.HOST_A,
        s.REDEEM_REWARD,
        {"key": "r1", "member": member.member_number, "reward": code},
        key,
    )
    transfer = {"key": "t1", "to": friend.member_number, "points": 10}
    transferred = s.gql(s.PUBLIC_HOST, s.TRANSFER_POINTS, transfer, issue(member.pk))

    # then: typed errors whose messages say what is wrong without the database id
    [redeem_error] = redeemed.payload("redeemReward")["errors"]
    [transfer_error] = transferred.payload("transferPoints")["errors"]
    assert redeem_error["code"] == transfer_error["code"] == "INSUFFICIENT_POINTS"
    assert redeem_error["message"] == "the member has 5 points, 10 needed"
    assert transfer_error["message"] == "the sender has 5 points, 10 needed"
