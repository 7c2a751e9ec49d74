"""Webhook endpoints managed by partner apps over the API: register one (its
signing secret is answered once), list them, read the delivery log, disable one.
Another partner's endpoints and deliveries are never shown or touched."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.webhooks import services as webhooks
from coalition.webhooks.models import WebhookEndpoint
from tenants.partners.models import Partner
from tests.testkit import api as s

URL = "https://app.example.com/hooks"


def _create(key: str, idempotency_key: str = "w1", **variables: Any) -> s.Reply:
    arguments = {"key": idempotency_key, "url": URL, "events": ["POINTS_EARNED"], **variables}
    return s.gql(s.HOST_A, s.CREATE_WEBHOOK, arguments, key)


def _endpoint(partner: Partner, events: tuple[str, ...] = ("points_earned",)) -> WebhookEndpoint:
    endpoint, _ = webhooks.webhook_endpoint_create(partner=partner, url=URL, events=list(events))
    return endpoint


# --- createWebhookEndpoint --------------------------------------------------------------------


def test_create_webhook_endpoint_answers_the_signing_secret_once(
    db: None, partner_a: Partner
) -> None:
    # given: alpha's back-office key
    key = s.partner_key(partner_a, ["settlement"])

    # when: it registers an endpoint for two events (named twice)
    created = _create(key, events=["TIER_CHANGED", "POINTS_EARNED", "TIER_CHANGED"]).payload(
        "createWebhookEndpoint"
    )

    # then: the endpoint, its events once each, and the secret that signs its bodies
    assert created["errors"] == []
    endpoint = created["endpoint"]
    assert (endpoint["url"], endpoint["events"], endpoint["active"]) == (
        URL, ["POINTS_EARNED", "TIER_CHANGED"], True,
    )  # fmt: skip
    row = WebhookEndpoint.objects.get(pk=int(endpoint["id"]))
    assert row.partner_id == partner_a.pk
    assert created["signingSecret"].startswith("whsec_")
    assert created["signingSecret"] == row.secret
    # and: the list shows the endpoint, and no field of it carries the secret
    listed = s.gql(s.HOST_A, s.WEBHOOK_ENDPOINTS_QUERY, None, key).payload("webhookEndpoints")
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert row.secret not in str(listed)


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"url": "ftp://files.example.com/in"}, "url"), ({"url": "https://"}, "url"),
     ({"events": []}, "events")],
    ids=["not http", "no host", "no events"],
)  # fmt: skip
def test_create_webhook_endpoint_typed_errors(
    db: None, partner_a: Partner, variables: dict[str, Any], field: str
) -> None:
    # given / when: an endpoint with one thing wrong
    reply = _create(s.partner_key(partner_a, ["settlement"]), **variables)

    # then: a typed error on that input, no endpoint, no secret
    payload = reply.payload("createWebhookEndpoint")
    codes = [(e["code"], e["field"]) for e in payload["errors"]]
    assert codes == [("INVALID_WEBHOOK_ENDPOINT", field)]
    assert (payload["endpoint"], payload["signingSecret"]) == (None, None)
    assert not WebhookEndpoint.objects.filter(partner=partner_a).exists()


def test_an_unknown_event_is_refused_by_the_schema(db: None, partner_a: Partner) -> None:
    reply = _create(s.partner_key(partner_a, ["settlement"]), events=["POINTS_GIFTED"])
    assert reply.status == 400, reply.body
    assert any("WebhookEvent" in message for message in reply.messages), reply.messages


def test_create_webhook_endpoint_twice_with_one_key_registers_one_endpoint(
    db: None, partner_a: Partner
) -> None:
    # given: a registration whose answer the app never saw
    key = s.partner_key(partner_a, ["settlement"])
    first = _create(key, "same").payload("createWebhookEndpoint")

    # when: it retries with the same idempotency key
    again = _create(key, "same").payload("createWebhookEndpoint")

    # then: the same endpoint, not a second one sending every event twice
    assert again["endpoint"]["id"] == first["endpoint"]["id"]
    assert WebhookEndpoint.objects.filter(partner=partner_a).count() == 1


def test_create_webhook_endpoint_retried_answers_the_same_endpoint_and_signing_secret(
    db: None, partner_a: Partner
) -> None:
    # given: an endpoint registered with key "again"
    key = s.partner_key(partner_a, ["settlement"])
    first = _create(key, "again", events=["TIER_CHANGED", "POINTS_EARNED"]).payload(
        "createWebhookEndpoint"
    )
    assert first["errors"] == [], first
    before = s.books(partner_a)

    # when: the app retries, naming the events in another order and one twice
    again = _create(key, "again", events=["POINTS_EARNED", "TIER_CHANGED", "POINTS_EARNED"])

    # then: the very same answer, with the secret the endpoint's bodies are signed with
    assert again.payload("createWebhookEndpoint") == first
    row = WebhookEndpoint.objects.get(pk=int(first["endpoint"]["id"]))
    assert first["signingSecret"] == row.secret
    # and: the retry wrote nothing
    assert s.books(partner_a) == before


@pytest.mark.parametrize(
    "variables",
    [{"url": "https://other.example.com/hooks"}, {"events": ["POINTS_EARNED", "TIER_CHANGED"]}],
    ids=["another url", "other events"],
)
def test_create_webhook_endpoint_key_reused_with_other_arguments_is_refused(
    db: None, partner_a: Partner, variables: dict[str, Any]
) -> None:
    # given: an endpoint registered with key "same"
    key = s.partner_key(partner_a, ["settlement"])
    done = _create(key, "same").payload("createWebhookEndpoint")
    assert done["errors"] == [], done
    before = s.books(partner_a)

    # when: the key comes back with another registration
    payload = _create(key, "same", **variables).payload("createWebhookEndpoint")

    # then: a typed error on the key, no endpoint and no secret, and nothing written
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("IDEMPOTENCY_KEY_REUSED", "idempotency_key")
    ]
    assert (payload["endpoint"], payload["signingSecret"]) == (None, None)
    assert s.books(partner_a) == before


def test_partners_registering_with_the_same_key_do_not_collide(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given / when: alpha and beta each register an endpoint with key "k1"
    created = [
        s.gql(host, s.CREATE_WEBHOOK, {"key": "k1", "url": URL, "events": ["POINTS_EARNED"]},
              s.partner_key(partner, ["settlement"])).payload("createWebhookEndpoint")
        for host, partner in ((s.HOST_A, partner_a), (s.HOST_B, partner_b))
    ]  # fmt: skip

    # then: two endpoints, one each, with their own secrets
    assert [payload["errors"] for payload in created] == [[], []]
    rows = [WebhookEndpoint.objects.get(pk=int(p["endpoint"]["id"])) for p in created]
    assert [row.partner_id for row in rows] == [partner_a.pk, partner_b.pk]
    assert created[0]["signingSecret"] != created[1]["signingSecret"]


# --- disableWebhookEndpoint -------------------------------------------------------------------


def test_disable_webhook_endpoint_stops_new_deliveries_and_repeats_harmlessly(
    db: None, partner_a: Partner
) -> None:
    # given: an endpoint of alpha's
    endpoint = _endpoint(partner_a)
    key = s.partner_key(partner_a, ["settlement"])
    variables = {"key": "d1", "id": str(endpoint.pk)}

    # when: alpha disables it, twice
    first = s.gql(s.HOST_A, s.DISABLE_WEBHOOK, variables, key).payload("disableWebhookEndpoint")
    again = s.gql(s.HOST_A, s.DISABLE_WEBHOOK, variables, key).payload("disableWebhookEndpoint")

    # then: inactive, the same answer both times, and no event is logged for it any more
    assert first == again
    assert first["errors"] == []
    assert (first["endpoint"]["id"], first["endpoint"]["active"]) == (str(endpoint.pk), False)
    assert webhooks.emit(partner_a.pk, "points_earned", {"points": 1}) == []


def test_disable_webhook_endpoint_typed_errors(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: an endpoint of beta's, and alpha's key
    betas = _endpoint(partner_b)
    key = s.partner_key(partner_a, ["settlement"])

    def disable(endpoint_id: str) -> list[tuple[str, str | None]]:
        reply = s.gql(s.HOST_A, s.DISABLE_WEBHOOK, {"key": endpoint_id, "id": endpoint_id}, key)
        payload = reply.payload("disableWebhookEndpoint")
        assert payload["endpoint"] is None
        return [(e["code"], e["field"]) for e in payload["errors"]]

    # when / then: beta's endpoint is not found from alpha's host, and stays active
    assert disable(str(betas.pk)) == [("UNKNOWN_WEBHOOK_ENDPOINT", "id")]
    betas.refresh_from_db()
    assert betas.is_active
    # and: neither is one that does not exist, and an id that is not a number is bad input
    assert disable(str(betas.pk + 10_000)) == [("UNKNOWN_WEBHOOK_ENDPOINT", "id")]
    assert disable("x1") == [("INVALID_INPUT", None)]


# --- webhookEndpoints and webhookDeliveries ---------------------------------------------------


def test_webhook_endpoints_lists_this_partners_endpoints_only(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: two endpoints of alpha's (one disabled) and one of beta's
    first = _endpoint(partner_a, ("points_earned", "tier_changed"))
    second = webhooks.webhook_endpoint_deactivate(endpoint=_endpoint(partner_a))
    _endpoint(partner_b)

    # when: alpha lists its endpoints
    key = s.partner_key(partner_a, ["settlement"])
    listed = s.gql(s.HOST_A, s.WEBHOOK_ENDPOINTS_QUERY, None, key).payload("webhookEndpoints")

    # then: alpha's two, oldest first, with their events and state
    assert [(e["id"], e["events"], e["active"]) for e in listed] == [
        (str(first.pk), ["POINTS_EARNED", "TIER_CHANGED"], True),
        (str(second.pk), ["POINTS_EARNED"], False),
    ]


def test_webhook_deliveries_page_through_the_log_newest_first(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: five events logged for alpha's endpoint, one for beta's
    endpoint = _endpoint(partner_a, ("points_earned", "points_redeemed"))
    _endpoint(partner_b)
    ids = [webhooks.emit(partner_a.pk, "points_earned", {"points": n})[0] for n in range(4)]
    ids += webhooks.emit(partner_a.pk, "points_redeemed", {"points": 9})
    webhooks.emit(partner_b.pk, "points_earned", {"points": 100})
    key = s.partner_key(partner_a, ["settlement"])

    # when: alpha reads its log two at a time
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        reply = s.gql(s.HOST_A, s.WEBHOOK_DELIVERIES_QUERY, {"first": 2, "after": after}, key)
        log = reply.payload("webhookDeliveries")
        seen += [edge["node"] for edge in log["edges"]]
        if not log["pageInfo"]["hasNextPage"]:
            break
        after = log["pageInfo"]["endCursor"]

    # then: alpha's five, newest first, as logged (nothing sent yet: no commit here)
    assert [int(node["id"]) for node in seen] == sorted(ids, reverse=True)
    newest = seen[0]
    assert (newest["event"], newest["endpointId"], newest["url"]) == (
        "POINTS_REDEEMED", str(endpoint.pk), URL,
    )  # fmt: skip
    assert (newest["status"], newest["attempts"], newest["deliveredAt"]) == ("pending", 0, None)
    assert [node["payload"] for node in seen[1:]] == [f'{{"points": {n}}}' for n in (3, 2, 1, 0)]


def test_webhook_deliveries_bad_paging_is_invalid_input(db: None, partner_a: Partner) -> None:
    key = s.partner_key(partner_a, ["settlement"])
    for variables in ({"first": 0}, {"after": "nope"}):
        reply = s.gql(s.HOST_A, s.WEBHOOK_DELIVERIES_QUERY, variables, key)
        assert reply.graphql_codes == ["invalid_input"]


def test_webhook_management_costs_the_same_queries_for_5_and_50_rows(
    db: None, partner_a: Partner
) -> None:
    # given: alpha's key (used once), then 5 and later 50 endpoints with a delivery each
    key = s.partner_key(partner_a, ["settlement"])
    s.gql(s.HOST_A, s.WEBHOOK_ENDPOINTS_QUERY, None, key)
    counts: dict[str, list[int]] = {"endpoints": [], "deliveries": []}
    sizes: dict[str, list[int]] = {"endpoints": [], "deliveries": []}
    for total in (5, 50):
        while WebhookEndpoint.objects.filter(partner=partner_a).count() < total:
            _endpoint(partner_a)
        webhooks.emit(partner_a.pk, "points_earned", {"points": 1})

        # when: alpha lists its endpoints and a page of 50 deliveries
        for name, document, variables, field in (
            ("endpoints", s.WEBHOOK_ENDPOINTS_QUERY, None, "webhookEndpoints"),
            ("deliveries", s.WEBHOOK_DELIVERIES_QUERY, {"first": 50}, "webhookDeliveries"),
        ):
            with CaptureQueriesContext(connection) as captured:
                reply = s.gql(s.HOST_A, document, variables, key)
            counts[name].append(len(captured.captured_queries))
            payload = reply.payload(field)
            sizes[name].append(len(payload if name == "endpoints" else payload["edges"]))

    # then: every row is there, and the statements did not grow with them
    assert sizes == {"endpoints": [5, 50], "deliveries": [5, 50]}
    assert counts["endpoints"][0] == counts["endpoints"][1]
    assert counts["deliveries"][0] == counts["deliveries"][1]
