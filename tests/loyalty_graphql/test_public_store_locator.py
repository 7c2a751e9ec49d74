"""A partner's host is a public store locator, and nothing more, without credentials.

Decision (issue 12): ``partner`` and ``stores`` answer anonymous callers with the
partner's name, slug and time zone and its active stores (code, name, channel,
city, time zone), as the schema descriptions say; the partner's status and
currency, inactive stores and every other operation need this partner's API key.
The anonymous cost budget applies. Generated anonymous queries show that nothing
else is readable."""

from __future__ import annotations

import json
from typing import Any

import graphql
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries

from loyalty_graphql.schema import partner_schema
from loyalty_kernel.tenancy import use_public_schema
from tenants.partners.models import Partner
from tenants.stores.models import Store
from tenants.stores.services import store_create
from tests.testkit import api as s
from tests.testkit import in_partner

# What an anonymous caller may read on a partner's host (paths without list indexes).
PUBLIC = {
    ("__typename",),
    ("partner", "__typename"), ("partner", "name"), ("partner", "slug"),
    ("partner", "timeZone"),
    ("stores", "__typename"), ("stores", "code"), ("stores", "name"), ("stores", "channel"),
    ("stores", "city"), ("stores", "timeZone"), ("stores", "isActive"),
}  # fmt: skip
SCALARS = {
    "DateTime": st.sampled_from(["2026-01-01T10:00:00+00:00", "not a date"]).map(
        lambda value: graphql.StringValueNode(value=value)
    ),
    "BigInt": st.integers(-(2**63), 2**63).map(nodes.Int),
}
LOCATOR = "{ partner { name slug timeZone } stores { code name channel city timeZone } }"


def _stores(partner: Partner) -> None:
    with in_partner(partner):
        store_create(code="LYON-1", name="Lyon Part-Dieu", city="Lyon")
        store_create(code="SHUT-1", name="Closed Shop", city="Nowhere")
        Store.objects.filter(code="SHUT-1").update(is_active=False)
    use_public_schema()


def test_anyone_may_read_the_store_locator(db: None, partner_a: Partner) -> None:
    # given: an open store and a closed one at alpha
    _stores(partner_a)

    # when: someone without credentials opens alpha's store locator
    reply = s.gql(s.HOST_A, LOCATOR)

    # then: the partner's public face and its open stores, not the closed one
    assert reply.payload("partner") == {
        "name": partner_a.name, "slug": "alpha", "timeZone": partner_a.time_zone
    }  # fmt: skip
    codes = [store["code"] for store in reply.payload("stores")]
    assert "LYON-1" in codes
    assert "SHUT-1" not in codes
    # and: the partner's own app sees every store
    keyed = s.gql(s.HOST_A, LOCATOR, None, s.partner_key(partner_a, ["read"]))
    assert "SHUT-1" in [store["code"] for store in keyed.payload("stores")]


def test_the_partners_status_and_currency_need_its_key(db: None, partner_a: Partner) -> None:
    # when: an anonymous caller asks for them, then alpha's app
    anonymous = s.gql(s.HOST_A, "{ partner { status } }")
    own = s.gql(s.HOST_A, "{ partner { status defaultCurrency } }", None, s.partner_key(partner_a))

    # then: refused with a typed code for the first, answered for the second
    assert anonymous.graphql_codes == ["permission_denied"]
    assert anonymous.body["data"] is None
    assert own.payload("partner") == {"status": "active", "defaultCurrency": "EUR"}


def test_the_anonymous_budget_applies_to_the_store_locator(db: None, partner_a: Partner) -> None:
    # given: four aliased store lists (4 x (10 + 50 x 6) = 1,240)
    document = "{ " + " ".join(
        f"s{index}: stores {{ code name channel city timeZone isActive }}" for index in range(4)
    ) + " }"  # fmt: skip

    # when: sent without credentials, then with alpha's key
    anonymous = s.gql(s.HOST_A, document)
    keyed = s.gql(s.HOST_A, document, None, s.partner_key(partner_a, ["read"]))

    # then: over the anonymous budget, within a key's
    assert anonymous.status == 400
    assert anonymous.graphql_codes == ["query_too_complex"]
    assert keyed.status == 200, keyed.body


def _readable(data: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The paths of every non-null leaf of an answer, list indexes dropped."""
    if isinstance(data, dict):
        return {leaf for key, value in data.items() for leaf in _readable(value, (*path, key))}
    if isinstance(data, list):
        return {leaf for item in data for leaf in _readable(item, path)}
    return set() if data is None else {path}


def test_nothing_else_is_readable_anonymously(db: None, partner_a: Partner) -> None:
    # given: alpha with stores, a member and rules (data that could leak)
    _stores(partner_a)
    s.partner_world(partner_a)
    client = Client(HTTP_HOST=s.HOST_A)
    sent = []

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(document=queries(partner_schema.graphql_schema, custom_scalars=SCALARS))
    def anonymous_query(document: str) -> None:
        # when: a generated query arrives without credentials
        with transaction.atomic():
            response = client.post(
                "/graphql", json.dumps({"query": document}), content_type="application/json"
            )
            transaction.set_rollback(True)
        body = response.json()
        sent.append(document)
        # then: whatever it asked, only the store locator's fields came back
        readable = _readable(body.get("data"))
        assert readable <= PUBLIC, (document, readable - PUBLIC)
        # and: every refusal is typed
        for error in body.get("errors") or []:
            assert error["extensions"]["code"], body

    anonymous_query()
    assert len(sent) >= 50
