"""The Integration pages' behaviour for an owner: a key is created once for a
double submit and its text is shown once (never on reload), works against the API
and is refused once revoked; form errors land next to their fields and create
nothing; an endpoint's secret is shown once; the delivery log pages and exports;
a delivery is sent again once for a double click. Every change is audited."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.api_keys.models import PARTNER_SCOPES, ApiKey
from coalition.audit.models import AuditEntry
from coalition.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from coalition.webhooks.services import webhook_endpoint_create
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit.console import login_as

pytestmark = pytest.mark.django_db

KEY_TEXT = re.compile(r'value="(lk_[0-9a-f]+_[^"]+)"')
SECRET_TEXT = re.compile(r'value="(whsec_[^"]+)"')


def _owner(partner_a: Partner, partner_b: Partner) -> Client:
    client, _user = login_as(partner_a, "owner", partner_b)
    return client


def test_a_double_submitted_key_is_created_once_and_shown_once(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given an owner on the create form
    client = _owner(partner_a, partner_b)
    form = {"name": "Web shop", "scopes": ["read", "earn"], "idempotency_key": uuid4().hex}
    # when the form is sent twice (a double click)
    first = client.post("/integration/api-keys/new/", form)
    second = client.post("/integration/api-keys/new/", form)
    # then one key, and both answers lead to the same page
    key = ApiKey.objects.get(partner=partner_a)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/integration/api-keys/{key.pk}/created/"
    assert key.scopes == ["earn", "read"]
    assert AuditEntry.objects.filter(action="api_key.create", partner_id=partner_a.pk).count() == 1
    # and the page shows the key once; a reload does not
    page = client.get(first["Location"])
    assert page["Cache-Control"] == "no-store"
    text = KEY_TEXT.search(page.content.decode())
    assert text is not None
    assert text.group(1).startswith(f"lk_{key.prefix}_")
    reload = client.get(first["Location"]).content.decode()
    assert KEY_TEXT.search(reload) is None
    assert "cannot be shown again" in reload
    # and the key works against the API, then is refused once revoked (twice: one audit row)
    assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, text.group(1)).status == 200
    assert "Never" not in client.get("/integration/").content.decode()
    client.post(f"/integration/api-keys/{key.pk}/revoke/")
    client.post(f"/integration/api-keys/{key.pk}/revoke/")
    assert AuditEntry.objects.filter(action="api_key.revoke").count() == 1
    assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, text.group(1)).status == 401


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "Tills", "scopes": []}, "scopes", "Choose at least one thing the key may do"),
        ({"name": "", "scopes": ["read"]}, "name", "Enter a name for the key"),
        ({"name": "Tills", "scopes": ["operator"]}, "scopes", "Select a valid choice"),
    ],
)
def test_a_key_form_with_errors_creates_nothing(
    partner_a: Partner, partner_b: Partner, form: dict[str, Any], field: str, message: str
) -> None:
    client = _owner(partner_a, partner_b)
    response = client.post("/integration/api-keys/new/", {**form, "idempotency_key": uuid4().hex})
    assert response.status_code == 400
    body = response.content.decode()
    assert "There is a problem" in body
    assert message in body
    assert f'<a href="#id_{field}' in body  # the summary's link goes to the field
    assert not ApiKey.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="api_key.").exists()


def test_an_endpoint_is_added_once_its_secret_shown_once_and_a_bad_url_refused(
    partner_a: Partner, partner_b: Partner
) -> None:
    client = _owner(partner_a, partner_b)
    # a URL the domain refuses: the message is next to the address field
    refused = client.post(
        "/integration/webhooks/new/",
        {"url": "ftp://shop.example.com/x", "events": ["points_earned"],
         "idempotency_key": uuid4().hex},
    )  # fmt: skip
    assert refused.status_code == 400
    assert 'id="id_url-error"' in refused.content.decode()
    assert not WebhookEndpoint.objects.exists()
    # a double submit adds one endpoint, audited once
    form = {
        "url": "https://shop.example.com/events",
        "events": ["points_earned", "tier_changed"],
        "idempotency_key": uuid4().hex,
    }
    first = client.post("/integration/webhooks/new/", form)
    second = client.post("/integration/webhooks/new/", form)
    endpoint = WebhookEndpoint.objects.get(partner=partner_a)
    assert first["Location"] == second["Location"]
    assert AuditEntry.objects.filter(action="webhook.create").count() == 1
    page = client.get(first["Location"]).content.decode()
    secret = SECRET_TEXT.search(page)
    assert secret is not None
    assert secret.group(1) == endpoint.secret
    assert endpoint.secret not in client.get(first["Location"]).content.decode()
    # disabling twice changes it once
    client.post(f"/integration/webhooks/{endpoint.pk}/disable/")
    client.post(f"/integration/webhooks/{endpoint.pk}/disable/")
    assert not WebhookEndpoint.objects.get(pk=endpoint.pk).is_active
    assert AuditEntry.objects.filter(action="webhook.disable").count() == 1


def _deliveries(partner: Partner, count: int) -> tuple[WebhookEndpoint, list[WebhookDelivery]]:
    endpoint, _ = webhook_endpoint_create(
        partner=partner, url="http://127.0.0.1:9/hooks", events=["points_earned"]
    )
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint, event_type="points_earned", payload={"n": n},
            status=DeliveryStatus.FAILED, attempts=6, last_status_code=500, last_error="HTTP 500",
        )
        for n in range(count)
    )  # fmt: skip
    return endpoint, rows


def test_the_delivery_log_pages_and_exports(partner_a: Partner, partner_b: Partner) -> None:
    client = _owner(partner_a, partner_b)
    endpoint, _rows = _deliveries(partner_a, 30)
    first = client.get(f"/integration/webhooks/{endpoint.pk}/")
    body = first.content.decode()
    assert body.count("Send again") == 25
    after = re.search(r'href="\?after=(\d+)" rel="next"', body)
    assert after is not None
    second = client.get(f"/integration/webhooks/{endpoint.pk}/?after={after.group(1)}")
    assert second.content.decode().count("Send again") == 5
    csv = client.get(f"/integration/webhooks/{endpoint.pk}/?format=csv")
    lines = b"".join(csv.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("id,created_at,event,status,attempts")
    assert len(lines) == 31


def test_a_delivery_is_sent_again_once_for_a_double_click(
    partner_a: Partner, partner_b: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given a failed delivery shown in the log
    client = _owner(partner_a, partner_b)
    endpoint, (delivery,) = _deliveries(partner_a, 1)
    page = client.get(f"/integration/webhooks/{endpoint.pk}/").content.decode()
    seen = re.search(r'name="seen" value="([^"]+)"', page)
    assert seen is not None
    url = f"/integration/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/"
    # when "Send again" is pressed twice
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"seen": seen.group(1)})
        client.post(url, {"seen": seen.group(1)})
    # then it was queued once (and tried: the receiver is down, so it waits for a retry)
    assert AuditEntry.objects.filter(action="webhook.redeliver").count() == 1
    again = WebhookDelivery.objects.get(pk=delivery.pk)
    assert again.status == DeliveryStatus.PENDING
    assert again.attempts == 1
    # and a delivery of another endpoint is not found under this one
    _other, (elsewhere,) = _deliveries(partner_a, 1)
    wrong = client.post(f"/integration/webhooks/{endpoint.pk}/deliveries/{elsewhere.pk}/redeliver/")
    assert wrong.status_code == 404
    assert WebhookDelivery.objects.get(pk=elsewhere.pk).status == DeliveryStatus.FAILED


def test_every_scope_a_partner_key_may_have_is_explained() -> None:
    from loyalty_web.console.integration_forms import SCOPE_DESCRIPTIONS

    assert set(PARTNER_SCOPES) <= set(SCOPE_DESCRIPTIONS)


def test_a_key_never_looked_at_does_not_hide_a_new_endpoints_secret(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a key whose page was never opened (its text still held for it)
    client = _owner(partner_a, partner_b)
    client.post(
        "/integration/api-keys/new/",
        {"name": "Tills", "scopes": ["read"], "idempotency_key": uuid4().hex},
    )
    # when an endpoint is added next
    added = client.post("/integration/webhooks/new/", _endpoint_form())
    # then its page shows its signing secret
    assert SECRET_TEXT.search(client.get(added["Location"]).content.decode()) is not None


def _endpoint_form() -> dict[str, Any]:
    return {
        "url": "https://shop.example.com/events",
        "events": ["points_earned"],
        "idempotency_key": uuid4().hex,
    }
