"""Fuzzing both GraphQL schemas with generated documents (hypothesis-graphql).

Hundreds of generated queries and mutations go through Django's test client with
valid credentials: the partner schema on alpha's host with a key holding every
partner scope, the coalition schema on the public host with a member token or an
operator key. Strings are often values that exist (the member's number, a reward,
a voucher, a currency) so that generated operations reach the services and not
only their not-found errors; numbers include 64-bit edges and beyond.

Whatever is sent, the API must answer without a server error or an unhandled
exception (no ``internal`` error code), and every error must be typed: each
top-level error carries a message and ``extensions.code``, each mutation payload
error a code. Malformed envelopes (not a JSON object, a query that is not a
string, JSON nested too deeply, a batch, an oversized body) and signed Stripe
webhooks that are not events get a typed JSON 4xx.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import graphql
import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from coalition.charity.services import charity_create
from coalition.ledger import services as ledger
from coalition.members.services import member_enrol
from coalition.settlement.models import StripeEvent
from loyalty_graphql.auth import api_key_create, member_token_issue
from loyalty_graphql.core.types import encode_cursor
from loyalty_graphql.schema import coalition_schema, partner_schema
from loyalty_platform.devtools.stripe_fake import signature_header
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPaymentSettings
from tests.testkit import in_partner
from tests.testkit.settlement import WEBHOOK_SECRET

FUZZ = settings(
    max_examples=130,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MINIMUM_SENT = 100  # per test: the four generated tests send at least 500 in all


def _string(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def _scalars(known: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Value strategies: generated text mixed with values that exist, and integers
    at and past the 32- and 64-bit edges."""
    edges = [0, 1, -1, 2**31 - 1, -(2**31), 2**53, 2**63 - 1, -(2**63), 2**63, 2**64, 10**30]
    big = st.one_of(
        st.sampled_from(edges), st.integers(-1000, 100_000), st.integers(-(2**80), 2**80)
    )
    return {
        "String": st.one_of(st.sampled_from(known), st.text(max_size=40)).map(_string),
        "ID": st.one_of(
            st.sampled_from(known), st.integers(-(2**70), 2**70).map(str), st.text(max_size=10)
        ).map(_string),
        "Int": st.one_of(
            st.sampled_from([0, 1, -1, 100, 101, 2**31 - 1, -(2**31)]),
            st.integers(-(2**31), 2**31 - 1),
        ).map(nodes.Int),
        "BigInt": big.map(nodes.Int),
        "DateTime": st.one_of(
            st.datetimes(
                min_value=datetime(1, 1, 2),  # naive bounds, aware values
                max_value=datetime(9999, 12, 30),
                timezones=st.just(UTC),
            ).map(datetime.isoformat),
            st.sampled_from([timezone.now().isoformat(), "2026-01-01T10:00:00", "not a date", ""]),
        ).map(_string),
        "JSONString": st.one_of(
            st.sampled_from(["{}", '{"points": 5}', '{"rates": {"EUR": "x"}}', "[]", "1", "{"]),
            st.text(max_size=20),
        ).map(_string),
    }


def _with_payload_errors(document: graphql.DocumentNode) -> str:
    """Print the document with ``errors { field code message }`` selected on every
    mutation payload, so that each payload's errors can be checked for codes."""
    errors = graphql.FieldNode(
        name=graphql.NameNode(value="errors"),
        arguments=(),
        directives=(),
        selection_set=graphql.SelectionSetNode(
            selections=tuple(
                graphql.FieldNode(name=graphql.NameNode(value=name), arguments=(), directives=())
                for name in ("field", "code", "message")
            )
        ),
    )
    definitions = []
    for definition in document.definitions:
        if (
            isinstance(definition, graphql.OperationDefinitionNode)
            and definition.operation == graphql.OperationType.MUTATION
        ):
            definition = copy.copy(definition)
            fields = []
            for selection in definition.selection_set.selections:
                if isinstance(selection, graphql.FieldNode) and selection.selection_set:
                    selection = copy.copy(selection)
                    selection.selection_set = graphql.SelectionSetNode(
                        selections=(*selection.selection_set.selections, errors)
                    )
                fields.append(selection)
            definition.selection_set = graphql.SelectionSetNode(selections=tuple(fields))
        definitions.append(definition)
    return graphql.print_ast(graphql.DocumentNode(definitions=tuple(definitions)))


def _check(status: int, body: Any, query: str, is_mutation: bool) -> None:
    context = f"query:\n{query}\nanswer ({status}): {json.dumps(body)[:2000]}"
    assert status < 500, context
    assert isinstance(body, dict), context
    for error in body.get("errors") or []:
        assert isinstance(error.get("message"), str), context
        assert error["message"], context
        code = (error.get("extensions") or {}).get("code")
        assert code, context  # every error is typed, validation errors too
        assert code != "internal", context
        assert error["message"] != "internal error", context
    if not is_mutation or not isinstance(body.get("data"), dict):
        return
    for payload in body["data"].values():
        if payload is None:  # then a top-level error says why (checked above)
            assert body.get("errors"), context
            continue
        for error in payload["errors"]:
            assert error["code"], context
            assert error["message"], context


class Api:
    def __init__(self, host: str, tokens: list[str]) -> None:
        self.client = Client(HTTP_HOST=host)
        self.tokens = tokens
        self.sent = 0

    def send(self, query: str, token: str, is_mutation: bool) -> Any:
        # A savepoint per request, rolled back: every document meets the same
        # data, and a database error cannot poison the test's transaction.
        with transaction.atomic():
            response = self.client.post(
                "/graphql",
                json.dumps({"query": query}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            transaction.set_rollback(True)
        self.sent += 1
        _check(response.status_code, response.json(), query, is_mutation)
        return response.json()


@pytest.fixture
def world(db: None, partner_a: Partner, settings: Any) -> dict[str, Any]:
    """Alpha with a rule, a reward, points payments; a member with points, a
    voucher and a payment; keys and a token; a charity."""
    settings.LOYALTY_API_RATE_LIMIT = 10**9
    now = timezone.now()
    member = member_enrol(email="fuzz@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=100_000)
    other = member_enrol(email="fuzz-other@example.com")
    charity_create(slug="kids", name="Kids")
    with in_partner(partner_a):
        version = earning.ruleset_draft_create()
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=version, effective_from=now, now=now)
        rewards.reward_save(code="lounge", name="Lounge", points_price=100)
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code="lounge")
        PointsPaymentSettings.objects.create(value_per_point=Decimal("0.01"), currency="EUR")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=500)
    _, partner_key = api_key_create(
        name="fuzz",
        scopes=["read", "members", "earn", "redeem", "settlement", "configure"],
        partner=partner_a,
    )
    _, operator_key = api_key_create(name="fuzz-operator", scopes=["operator"])
    known = [
        member.member_number, other.member_number, member.email, "lounge", voucher.code,
        str(payment.payment_id), "EUR", "GBP", "alpha", "beta", "kids", "food", "pos",
        encode_cursor(1), encode_cursor(10**12), "", " ", "R-1", "fuzz-key",
    ]  # fmt: skip
    return {
        "scalars": _scalars(known),
        "member_number": member.member_number,
        "partner": Api("alpha.localhost", [partner_key]),
        "coalition": Api("localhost", [member_token_issue(member.pk), operator_key]),
    }


def _fuzz(
    api: Api,
    documents: st.SearchStrategy[str],
    is_mutation: bool,
    minimum: int = MINIMUM_SENT,
    config: Callable[[Any], Any] = FUZZ,
) -> None:
    @config
    @given(query=documents, token=st.sampled_from(api.tokens))
    def run(query: str, token: str) -> None:
        api.send(query, token, is_mutation)

    run()
    assert api.sent >= minimum


def test_partner_queries_never_fail_untyped(world: dict[str, Any]) -> None:
    documents = queries(partner_schema.graphql_schema, custom_scalars=world["scalars"])
    _fuzz(world["partner"], documents, is_mutation=False)


def test_partner_mutations_never_fail_untyped(world: dict[str, Any]) -> None:
    documents = mutations(
        partner_schema.graphql_schema,
        custom_scalars=world["scalars"],
        print_ast=_with_payload_errors,
    )
    _fuzz(world["partner"], documents, is_mutation=True)


def test_coalition_queries_never_fail_untyped(world: dict[str, Any]) -> None:
    documents = queries(coalition_schema.graphql_schema, custom_scalars=world["scalars"])
    _fuzz(world["coalition"], documents, is_mutation=False)


def test_coalition_mutations_never_fail_untyped(world: dict[str, Any]) -> None:
    documents = mutations(
        coalition_schema.graphql_schema,
        custom_scalars=world["scalars"],
        print_ast=_with_payload_errors,
    )
    _fuzz(world["coalition"], documents, is_mutation=True)


def test_invalid_documents_get_typed_errors(world: dict[str, Any]) -> None:
    """Documents that break the schema (wrong types, missing arguments) are
    refused by validation with a message, never run."""
    for name, schema in (("partner", partner_schema), ("coalition", coalition_schema)):
        documents = st.one_of(
            queries(schema.graphql_schema, mode=Mode.NEGATIVE, custom_scalars=world["scalars"]),
            mutations(schema.graphql_schema, mode=Mode.NEGATIVE, custom_scalars=world["scalars"]),
        )
        _fuzz(
            world[name], documents, is_mutation=False, minimum=30,
            config=settings(FUZZ, max_examples=30),
        )  # fmt: skip


# Found by the fuzzing above: PostgreSQL refuses a NUL character in text and a
# number past 64 bits; such input was an ``internal`` error, now it is typed.


def test_a_nul_character_is_invalid_input(world: dict[str, Any]) -> None:
    partner = world["partner"]
    [token] = partner.tokens
    body = partner.send('{ member(lookup: {email: "a\\u0000b@example.com"}) { id } }', token, False)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["invalid_input"]
    body = partner.send(
        'mutation { enrolMember(idempotencyKey: "k\\u0000", email: "x@example.com") '
        "{ member { id } errors { code message } } }",
        token,
        True,
    )
    assert [e["code"] for e in body["data"]["enrolMember"]["errors"]] == ["INVALID_INPUT"]


def test_a_number_past_64_bits_is_invalid_input(world: dict[str, Any]) -> None:
    partner = world["partner"]
    [token] = partner.tokens
    receipt = (
        f'{{externalId: "R-big", memberNumber: "{world["member_number"]}", '
        f'occurredAt: "{timezone.now().isoformat()}", currency: "EUR", total: {2**64}, '
        f'lines: [{{sku: "A", category: "food", quantity: 1, unitPrice: {2**64}}}]}}'
    )
    body = partner.send(
        f'mutation {{ recordPurchase(idempotencyKey: "big", receipt: {receipt}) '
        "{ purchase { points } errors { code message } } }",
        token,
        True,
    )
    assert body["data"]["recordPurchase"]["purchase"] is None
    assert [e["code"] for e in body["data"]["recordPurchase"]["errors"]] == ["INVALID_INPUT"]


# --- malformed envelopes -----------------------------------------------------------------
# Found with schemathesis and by hand: bodies that are not what a GraphQL client
# sends answered 500s, Django's HTML 400 page, or untyped messages. Each gets a
# typed JSON error and a 4xx now.

PARTNERS = "{ partners { slug } }"
DEEP_JSON = "[" * 100_000 + "]" * 100_000  # a RecursionError for json, under the size limit
THREE_MB = 3 * 1024 * 1024  # past Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)


def _json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


MALFORMED_GRAPHQL = [
    ("query is a number", _json_body({"query": 5}), "application/json", 400),
    ("query is a list", _json_body({"query": [PARTNERS]}), "application/json", 400),
    ("query is an object", _json_body({"query": {"q": PARTNERS}}), "application/json", 400),
    ("query is null", _json_body({"query": None}), "application/json", 400),
    ("variables are a list", _json_body({"query": PARTNERS, "variables": [1]}),
     "application/json", 400),
    ("variables are a number", _json_body({"query": PARTNERS, "variables": 5}),
     "application/json", 400),
    ("variables are invalid JSON text", _json_body({"query": PARTNERS, "variables": "{"}),
     "application/json", 400),
    ("variables nested 100,000 deep", b'{"query": "{ partners { slug } }", "variables": {"a": '
     + DEEP_JSON.encode() + b"}}", "application/json", 400),
    ("variables nested 500 deep", b'{"query": "{ partners { slug } }", "variables": {"a": '
     + b"[" * 500 + b"]" * 500 + b"}}", "application/json", 400),
    ("operationName is a number", _json_body({"query": PARTNERS, "operationName": 5}),
     "application/json", 400),
    ("a batch of operations", _json_body([{"query": PARTNERS}, {"query": PARTNERS}]),
     "application/json", 400),
    ("an empty batch", b"[]", "application/json", 400),
    ("a number", b"5", "application/json", 400),
    ("a string", b'"{ partners { slug } }"', "application/json", 400),
    ("null", b"null", "application/json", 400),
    ("invalid JSON", b'{"query": ', "application/json", 400),
    ("JSON nested 100,000 deep", DEEP_JSON.encode(), "application/json", 400),
    ("not UTF-8", b'{"query": "\xff\xfe"}', "application/json", 400),
    ("a GraphQL body not in UTF-8", b"{ partners { slug \xff } }", "application/graphql", 400),
    ("a document nested 5,000 deep", _json_body({"query": "{a" * 5000 + "}" * 5000}),
     "application/json", 400),
    ("a document of 30,000 tokens", _json_body({"query": "{" + " a" * 30_000 + "}"}),
     "application/json", 400),
    ("no query at all", _json_body({"variables": {}}), "application/json", 400),
    ("a body of 3 MB", _json_body({"query": PARTNERS + " " * THREE_MB}), "application/json", 413),
]  # fmt: skip


def _assert_typed_json_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json", response.content[:500]
    body = response.json()
    assert body["errors"], body
    for error in body["errors"]:
        assert error["message"], body
        assert error["extensions"]["code"] not in {"", "internal"}, body


@pytest.mark.parametrize(
    ("name", "body", "content_type", "status"),
    MALFORMED_GRAPHQL,
    ids=[c[0] for c in MALFORMED_GRAPHQL],
)
def test_a_malformed_graphql_envelope_gets_a_typed_4xx(
    db: None, name: str, body: bytes, content_type: str, status: int
) -> None:
    # when: the body arrives on the public host's API
    response = Client(HTTP_HOST="localhost").generic("POST", "/graphql", body, content_type)
    # then: a typed JSON error with a 4xx status
    _assert_typed_json_error(response, status)


def test_a_body_past_djangos_upload_limit_is_a_typed_413_even_under_a_higher_api_limit(
    db: None, settings: Any
) -> None:
    # given: an API body limit above Django's own (DATA_UPLOAD_MAX_MEMORY_SIZE)
    settings.LOYALTY_GRAPHQL_MAX_BODY_BYTES = 10 * THREE_MB
    # when: a 3 MB body arrives
    body = _json_body({"query": PARTNERS + " " * THREE_MB})
    response = Client(HTTP_HOST="localhost").generic("POST", "/graphql", body, "application/json")
    # then: Django refuses to read it, and the answer is still a typed 413
    _assert_typed_json_error(response, 413)


def test_a_batch_is_told_to_send_one_operation_per_request(db: None) -> None:
    body = _json_body([{"query": PARTNERS}])
    response = Client(HTTP_HOST="localhost").generic("POST", "/graphql", body, "application/json")
    _assert_typed_json_error(response, 400)
    assert "one operation per request" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(("method", "status"), [("PUT", 405), ("DELETE", 405), ("PATCH", 405)])
def test_other_methods_get_a_typed_405(db: None, method: str, status: int) -> None:
    response = Client(HTTP_HOST="localhost").generic(
        method, "/graphql", _json_body({"query": PARTNERS}), "application/json"
    )
    _assert_typed_json_error(response, status)
    assert "POST" in response["Allow"]


def test_get_with_variables_that_are_not_json_gets_a_typed_400(db: None) -> None:
    response = Client(HTTP_HOST="localhost").get(
        "/graphql", {"query": PARTNERS, "variables": "{nope"}, HTTP_ACCEPT="application/json"
    )
    _assert_typed_json_error(response, 400)


def _stripe_post(body: bytes, *, sign: bool = True) -> Any:
    headers = {"HTTP_STRIPE_SIGNATURE": signature_header(body.decode(), WEBHOOK_SECRET)} if sign \
        else {}  # fmt: skip
    return Client(HTTP_HOST="localhost").post(
        "/stripe/webhook", body, content_type="application/json", **headers
    )


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [("an empty object", b"{}", 400), ("an empty list", b"[]", 400), ("a number", b"5", 400),
     ("an event without a type", b'{"id": "evt_1"}', 400),
     ("an id that is not a string", b'{"id": 5, "type": "invoice.paid"}', 400),
     ("an id too long to store", _json_body({"id": "e" * 500, "type": "invoice.paid"}), 400),
     ("a NUL in the event", _json_body({"id": "evt_nul", "type": "x", "data": "a\u0000b"}), 400),
     ("JSON nested 100,000 deep", DEEP_JSON.encode(), 400),
     ("a body of 3 MB", _json_body({"id": "evt_big", "type": "x", "pad": " " * THREE_MB}), 413)],
    ids=lambda value: value if isinstance(value, str) else None,
)  # fmt: skip
def test_a_signed_stripe_webhook_that_is_not_an_event_gets_a_typed_4xx(
    db: None, settings: Any, name: str, body: bytes, status: int
) -> None:
    # given: the webhook secret configured; the body is signed with it
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    # when: Stripe's signature is valid but the body is not an event
    response = _stripe_post(body)
    # then: a typed JSON 4xx, and nothing stored
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"], response.json()
    assert not StripeEvent.objects.filter(event_id__in=["evt_1", "evt_nul", "evt_big"]).exists()
