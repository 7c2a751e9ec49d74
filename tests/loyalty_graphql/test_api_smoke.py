"""A partner app enrols a member and records a purchase over HTTP; keys only act
on their own partner's host; errors are typed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from loyalty_graphql.auth import api_key_create
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tests.testkit import in_partner


def gql(
    host: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = Client(HTTP_HOST=host).post(
        "/graphql", json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json", **headers,
    )  # fmt: skip
    return response.status_code, response.json()


ENROL = """mutation($key: String!, $email: String!) {
  enrolMember(idempotencyKey: $key, email: $email) {
    member { memberNumber balance } errors { field code message } } }"""
PURCHASE = """mutation($key: String!, $receipt: ReceiptInput!) {
  recordPurchase(idempotencyKey: $key, receipt: $receipt) {
    purchase { points balanceAfter breakdown { ruleePoints: rulePoints } }
    errors { field code message } } }"""


def test_partner_app_enrols_and_records_a_purchase(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    _, key_a = api_key_create(name="till", scopes=["read", "members", "earn"], partner=partner_a)
    _, key_b = api_key_create(name="till", scopes=["read"], partner=partner_b)
    now = timezone.now()
    with in_partner(partner_a):
        version = earning.ruleset_draft_create()
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=version, effective_from=now - timedelta(seconds=0), now=now)

    status, body = gql("alpha.localhost", ENROL, {"key": "e1", "email": "api@example.com"}, key_a)
    assert status == 200, body
    member = body["data"]["enrolMember"]["member"]
    assert member["balance"] == 0
    receipt = {
        "externalId": "T-1", "memberNumber": member["memberNumber"],
        "occurredAt": now.isoformat(), "currency": "EUR", "total": 2500,
        "lines": [{"sku": "A", "category": "food", "quantity": 1, "unitPrice": 2500}],
    }  # fmt: skip
    status, body = gql("alpha.localhost", PURCHASE, {"key": "p1", "receipt": receipt}, key_a)
    assert body["data"]["recordPurchase"]["errors"] == []
    assert body["data"]["recordPurchase"]["purchase"]["points"] == 25

    # a typed error: bad currency
    bad = {**receipt, "externalId": "T-2", "currency": "XXX"}
    status, body = gql("alpha.localhost", PURCHASE, {"key": "p2", "receipt": bad}, key_a)
    assert body["data"]["recordPurchase"]["errors"][0]["code"] == "UNSUPPORTED_CURRENCY"

    # B's key on A's host is refused before anything runs
    status, body = gql("alpha.localhost", ENROL, {"key": "e2", "email": "x@example.com"}, key_b)
    assert status == 403
    # anonymous: typed permission error, nothing enrolled
    status, body = gql("alpha.localhost", ENROL, {"key": "e3", "email": "y@example.com"})
    assert body["data"]["enrolMember"]["errors"][0]["code"] == "PERMISSION_DENIED"
    # a key lacking the scope
    status, body = gql("beta.localhost", ENROL, {"key": "e4", "email": "z@example.com"}, key_b)
    assert body["data"]["enrolMember"]["errors"][0]["code"] == "PERMISSION_DENIED"
