"""The Integration pages (API keys, webhook endpoints, the delivery log) per role:
only owners ("manage_integration") open them; managers, cashiers and analysts are
refused, another partner's staff and anonymous visitors are sent to log in. A
denied request changes nothing: no key, no endpoint, no redelivery, no audit row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.api_keys.models import ApiKey
from coalition.api_keys.services import api_key_create
from coalition.audit.models import AuditEntry
from coalition.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from coalition.webhooks.services import webhook_endpoint_create
from tenants.partners.models import Partner
from tests.testkit.console import ROLES, assert_page_answers_role, login_as

pytestmark = pytest.mark.django_db

OWNERS = frozenset({"owner"})


def _state() -> tuple[Any, ...]:
    return (
        sorted(ApiKey.objects.values_list("id", "name", "revoked_at")),
        sorted(WebhookEndpoint.objects.values_list("id", "url", "is_active")),
        sorted(WebhookDelivery.objects.values_list("id", "status", "attempts")),
        AuditEntry.objects.count(),
    )


def _nothing(partner: Partner) -> dict[str, Any]:
    return {}


def _key(partner: Partner) -> dict[str, Any]:
    key, _ = api_key_create(name="Tills", scopes=["read"], partner=partner)
    return {"key": key.pk}


def _endpoint(partner: Partner) -> dict[str, Any]:
    endpoint, _ = webhook_endpoint_create(
        partner=partner, url="http://127.0.0.1:9/hooks", events=["points_earned"]
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_type="points_earned",
        payload={"points": 5},
        status=DeliveryStatus.FAILED,
        attempts=6,
        last_error="HTTP 500",
        last_status_code=500,
    )
    return {"endpoint": endpoint.pk, "delivery": delivery.pk}


Setup = Callable[[Partner], dict[str, Any]]
Request = Callable[[Client, dict[str, Any]], Any]


def _new_key() -> dict[str, Any]:
    return {"name": "Web shop", "scopes": ["read", "earn"], "idempotency_key": uuid4().hex}


def _new_endpoint() -> dict[str, Any]:
    return {
        "url": "https://shop.example.com/events",
        "events": ["points_earned"],
        "idempotency_key": uuid4().hex,
    }


PAGES: dict[str, tuple[Setup, Request, frozenset[str]]] = {
    "integration": (_key, lambda c, a: c.get("/integration/"), OWNERS),
    "create key (form)": (_nothing, lambda c, a: c.get("/integration/api-keys/new/"), OWNERS),
    "create key": (_nothing, lambda c, a: c.post("/integration/api-keys/new/", _new_key()),
                   OWNERS),
    "key created": (_key, lambda c, a: c.get(f"/integration/api-keys/{a['key']}/created/"),
                    OWNERS),
    "revoke key (confirm)": (_key, lambda c, a: c.get(
        f"/integration/api-keys/{a['key']}/revoke/"), OWNERS),
    "revoke key": (_key, lambda c, a: c.post(f"/integration/api-keys/{a['key']}/revoke/"),
                   OWNERS),
    "add endpoint (form)": (_nothing, lambda c, a: c.get("/integration/webhooks/new/"), OWNERS),
    "add endpoint": (_nothing, lambda c, a: c.post("/integration/webhooks/new/",
                                                    _new_endpoint()), OWNERS),
    "endpoint added": (_endpoint, lambda c, a: c.get(
        f"/integration/webhooks/{a['endpoint']}/created/"), OWNERS),
    "disable endpoint (confirm)": (_endpoint, lambda c, a: c.get(
        f"/integration/webhooks/{a['endpoint']}/disable/"), OWNERS),
    "disable endpoint": (_endpoint, lambda c, a: c.post(
        f"/integration/webhooks/{a['endpoint']}/disable/"), OWNERS),
    "delivery log": (_endpoint, lambda c, a: c.get(f"/integration/webhooks/{a['endpoint']}/"),
                     OWNERS),
    "delivery log CSV": (_endpoint, lambda c, a: c.get(
        f"/integration/webhooks/{a['endpoint']}/?format=csv"), OWNERS),
    "redeliver": (_endpoint, lambda c, a: c.post(
        f"/integration/webhooks/{a['endpoint']}/deliveries/{a['delivery']}/redeliver/"),
                  OWNERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_integration_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    setup, request, allowed = PAGES[page]
    # given someone in this role and whatever the page acts on, when they open the page or press
    # its button: owners get it, and everyone else is refused; a refusal changes nothing
    assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=allowed,
        setup=setup,
        request=request,
        state=lambda _arguments: _state(),
    )


def test_an_owner_of_alpha_cannot_touch_betas_keys_or_endpoints(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given an owner signed in at alpha, and a key and an endpoint of beta
    client, _user = login_as(partner_a, "owner", partner_b)
    key = _key(partner_b)["key"]
    found = _endpoint(partner_b)
    before = _state()
    # when alpha's owner names them on alpha's host
    answers = [
        client.get(f"/integration/api-keys/{key}/revoke/"),
        client.post(f"/integration/api-keys/{key}/revoke/"),
        client.get(f"/integration/api-keys/{key}/created/"),
        client.post(f"/integration/webhooks/{found['endpoint']}/disable/"),
        client.get(f"/integration/webhooks/{found['endpoint']}/"),
        client.post(
            f"/integration/webhooks/{found['endpoint']}/deliveries/{found['delivery']}/redeliver/"
        ),
    ]
    # then not found, and nothing changed; alpha's list does not show them
    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert _state() == before
    page = client.get("/integration/").content.decode()
    assert "Tills" not in page
    assert "127.0.0.1:9" not in page
