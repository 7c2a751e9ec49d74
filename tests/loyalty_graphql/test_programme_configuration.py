"""A partner app configures the programme over GraphQL, as staff do in the
console: stores, an earn rule draft built, published and read back, the value
of a point; typed errors; keys of another partner or without the configure
scope change nothing; reading versions costs the same queries however many."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coalition.audit.models import AuditEntry
from loyalty_kernel.tenancy import use_public_schema
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit import in_partner


def _payload(reply: s.Reply, name: str) -> Any:
    payload = reply.payload(name)
    assert payload["errors"] == [], payload
    return payload


def test_a_partner_app_sets_up_stores_rules_and_the_point_value(
    db: None, partner_a: Partner
) -> None:
    key = s.partner_key(partner_a)
    # given / when: a store is created, renamed, closed and reopened
    created = _payload(
        s.gql(s.HOST_A, s.CREATE_STORE, {"key": "s1", "code": "API-1", "name": "Api shop"}, key),
        "createStore",
    )
    assert created["store"] == {
        "code": "API-1",
        "name": "Api shop",
        "channel": "pos",
        "timeZone": partner_a.time_zone,
        "city": "",
        "isOpen": True,
    }
    _payload(
        s.gql(s.HOST_A, s.UPDATE_STORE, {"key": "s2", "code": "API-1", "name": "Renamed"}, key),
        "updateStore",
    )
    closed = _payload(
        s.gql(s.HOST_A, s.CLOSE_STORE, {"key": "s3", "code": "API-1"}, key), "closeStore"
    )
    # then the closed store is off the public locator
    assert closed["store"]["isOpen"] is False
    locator = s.gql(s.HOST_A, s.STORES_QUERY).payload("stores")
    assert "API-1" not in [store["code"] for store in locator]
    reopened = _payload(
        s.gql(s.HOST_A, s.REOPEN_STORE, {"key": "s4", "code": "API-1"}, key), "reopenStore"
    )
    assert reopened["store"]["name"] == "Renamed"

    # when: a draft gets two rules, loses one, and is published from now
    draft = _payload(
        s.gql(s.HOST_A, s.CREATE_RULE_DRAFT, {"key": "r1", "description": "api"}, key),
        "createRuleDraft",
    )["version"]
    number = draft["number"]
    assert draft["status"] == "draft"
    with_rules = None
    for index, (kind, params) in enumerate(
        [("base_rate", {"rates": {"EUR": "2"}}), ("include_tax", {})]
    ):
        with_rules = _payload(s.gql(s.HOST_A, s.ADD_EARN_RULE, {
            "key": f"a{index}", "version": number, "kind": kind, "params": json.dumps(params)},
            key), "addEarnRule")["version"]  # fmt: skip
    assert with_rules is not None
    tax = next(rule for rule in with_rules["rules"] if rule["kind"] == "include_tax")
    removed = _payload(s.gql(s.HOST_A, s.REMOVE_EARN_RULE, {"key": "d1", "version": number,
                                                           "rule": tax["id"]}, key),
                       "removeEarnRule")["version"]  # fmt: skip
    assert [rule["kind"] for rule in removed["rules"]] == ["base_rate"]
    published = _payload(s.gql(s.HOST_A, s.PUBLISH_RULE_VERSION, {"key": "p1", "version": number},
                               key), "publishRuleVersion")["version"]  # fmt: skip
    assert published["status"] == "in_force"
    assert json.loads(published["rules"][0]["params"]) == {"rates": {"EUR": "2"}}

    # and: the point value is set
    value = _payload(
        s.gql(s.HOST_A, s.SET_POINT_VALUE, {"key": "v1", "value": "1.25"}, key), "setPointValue"
    )
    assert value["pointValue"] == {"valuePerPoint": "1.25", "currency": "EUR"}

    # then: the versions read back, and every change is in the audit log, by the key
    versions = s.gql(s.HOST_A, s.RULE_VERSIONS_QUERY, token=key).payload("ruleVersions")
    assert versions[0]["number"] == number
    by_key = AuditEntry.objects.filter(partner_id=partner_a.pk, actor_label__startswith="API key")
    actions = set(by_key.values_list("action", flat=True))
    assert actions >= {"store.create", "store.update", "store.close", "store.reopen",
                       "earn_rules.draft", "earn_rules.rule_add", "earn_rules.rule_remove",
                       "earn_rules.publish", "points_payments.value"}  # fmt: skip


def test_typed_errors_change_nothing(db: None, partner_a: Partner) -> None:
    # given: a published version and a store
    key = s.partner_key(partner_a)
    s.publish_rules(partner_a)
    s.store(partner_a, "DUP-1")
    with in_partner(partner_a):
        published = earning.ruleset_draft_create()
        earning.rule_add(version=published, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(
            version=published, effective_from=timezone.now() + timedelta(days=1)
        )
        draft = earning.ruleset_draft_create()
        earning.rule_add(version=draft, kind="base_rate", params={"rates": {"EUR": "1"}})
    use_public_schema()
    before = s.books(partner_a)
    past = (timezone.now() - timedelta(days=1)).isoformat()
    cases = [
        (s.CREATE_STORE, "createStore", {"code": "DUP-1", "name": "Again"}, "INVALID_STORE"),
        (s.UPDATE_STORE, "updateStore", {"code": "NOPE", "name": "X"}, "UNKNOWN_STORE"),
        (s.UPDATE_STORE, "updateStore", {"code": "DUP-1", "timeZone": "Mars/Base"},
         "INVALID_STORE"),
        (s.ADD_EARN_RULE, "addEarnRule", {"version": published.number, "kind": "include_tax",
                                          "params": "{}"}, "VERSION_PUBLISHED"),
        (s.ADD_EARN_RULE, "addEarnRule", {"version": draft.number, "kind": "sku_bonus",
                                          "params": "{}"}, "INVALID_RULE"),
        (s.ADD_EARN_RULE, "addEarnRule", {"version": 999, "kind": "include_tax",
                                          "params": "{}"}, "UNKNOWN_RULE_VERSION"),
        (s.PUBLISH_RULE_VERSION, "publishRuleVersion", {"version": draft.number,
                                                        "effectiveFrom": past},
         "INVALID_EFFECTIVE_FROM"),
        (s.PUBLISH_RULE_VERSION, "publishRuleVersion", {"version": published.number},
         "VERSION_PUBLISHED"),
        (s.SET_POINT_VALUE, "setPointValue", {"value": "0"}, "INVALID_POINT_VALUE"),
        (s.SET_POINT_VALUE, "setPointValue", {"value": "abc"}, "INVALID_POINT_VALUE"),
    ]  # fmt: skip
    for index, (document, name, variables, code) in enumerate(cases):
        # when: each bad request is sent
        reply = s.gql(s.HOST_A, document, {"key": f"bad-{index}", **variables}, key)
        # then: its typed code, and nothing changed
        assert reply.codes(name) == [code], (name, reply.body)
    assert s.books(partner_a) == before


def test_reading_rule_versions_costs_the_same_for_2_and_12_versions(
    db: None, partner_a: Partner
) -> None:
    key = s.partner_key(partner_a)
    s.gql(s.HOST_A, s.RULE_VERSIONS_QUERY, token=key)  # the key's first use is noted

    def statements() -> int:
        with CaptureQueriesContext(connection) as captured:
            reply = s.gql(s.HOST_A, s.RULE_VERSIONS_QUERY, token=key)
        assert reply.payload("ruleVersions") is not None
        return len(captured.captured_queries)

    for _ in range(2):
        s.rule_draft(partner_a)
    few = statements()
    for _ in range(10):
        s.rule_draft(partner_a)
    assert statements() == few
