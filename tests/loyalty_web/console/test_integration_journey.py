"""An owner connects an app in a browser: creates an API key (the app uses it
against /graphql, then the owner revokes it and the app is refused), adds a
webhook endpoint (an event of the programme shows up in its delivery log,
delivered to the app) and sends one delivery again. Every page passes the
accessibility check, fetches nothing from outside the machine, and is
photographed at desktop and phone size."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from django.db import transaction
from playwright.sync_api import expect

from coalition.webhooks import services as webhooks
from tenants.staff import services as staff
from tests.testkit import api as s
from tests.testkit.api import onboard
from tests.testkit.browser import check_page

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"


class _Receiver(BaseHTTPRequestHandler):
    """A partner app's webhook endpoint on this machine: it answers 200 and keeps
    the deliveries' ids."""

    received: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append(self.headers.get("X-Loyalty-Delivery", ""))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _api(live_server_url: str, host: str, key: str, query: str, variables: dict[str, Any]) -> int:
    """POST a GraphQL document to the live server as the partner's app would;
    returns the HTTP status."""
    port = urlsplit(live_server_url).port
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Host": f"{host}:{port}",
                 "Authorization": f"Bearer {key}"},
        method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body = json.loads(response.read())
            assert not body.get("errors"), body
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_an_owner_creates_an_api_key_and_a_webhook(browser_page: Any, live_server_url: str) -> None:
    # a partner of its own: browser tests share committed data, and what one
    # journey creates (rule versions, keys) must not show in another
    partner_a = onboard(prefix="shop", currency="EUR")
    host = f"{partner_a.slug}.localhost"
    owner = staff.staff_member_create(
        partner_id=partner_a.pk,
        email=f"owner-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="owner",
    )
    # given a partner app listening for webhooks (the data here is committed and
    # shared with later tests: no earn rules are published, so none see a new version)
    _Receiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_port}/loyalty/events"
    page = browser_page.page
    try:
        # when the owner signs in and opens Integration
        page.goto(browser_page.url("/", host=host))
        page.get_by_label("E-mail address").fill(owner.user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Console").get_by_role(
            "link", name="Integration"
        ).click()
        expect(page.get_by_text("No API keys yet")).to_be_visible()
        check_page(browser_page, "console-integration-empty")

        # and adds a webhook endpoint for points earned (after a first try without events)
        page.get_by_role("link", name="Add a webhook endpoint").click()
        page.get_by_label("Address (URL)").fill(hook_url)
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        check_page(browser_page, "console-webhook-form-error")
        page.get_by_label("points_earned").check()
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.get_by_label("Signing secret").input_value()
        assert secret.startswith("whsec_")
        check_page(browser_page, "console-webhook-created")
        page.reload()
        assert page.get_by_label("Signing secret").count() == 0
        page.get_by_role("link", name="Done").click()

        # and creates an API key that may read and record purchases
        page.get_by_role("link", name="Create an API key").click()
        page.get_by_label("Name").fill("Web shop")
        page.get_by_label("read", exact=True).check()
        page.get_by_label("earn", exact=True).check()
        check_page(browser_page, "console-api-key-form")
        page.get_by_role("button", name="Create key").click()
        key = page.get_by_label("The API key").input_value()
        assert key.startswith("lk_")
        check_page(browser_page, "console-api-key-created")
        page.reload()
        assert page.get_by_label("The API key").count() == 0
        expect(page.get_by_text("cannot be shown again")).to_be_visible()
        check_page(browser_page, "console-api-key-created-reload")

        # then the app can use the key: it reads the partner's rewards over the API
        assert _api(live_server_url, host, key, s.REWARDS_QUERY, {}) == 200
        # and when a member earns points with the partner, the endpoint hears of it
        with transaction.atomic():
            webhooks.emit(partner_a.pk, "points_earned", {"member": "0000000001", "points": 30})
        # and the list shows the key as used
        page.get_by_role("link", name="Done").click()
        expect(page.get_by_role("cell", name="Web shop", exact=True)).to_be_visible()
        assert page.get_by_role("cell", name="read, earn").count() == 0  # sorted: earn, read
        expect(page.get_by_role("cell", name="earn, read")).to_be_visible()
        check_page(browser_page, "console-integration")

        # and the event is in the endpoint's delivery log, delivered
        page.get_by_role("link", name="Delivery log").click()
        expect(page.get_by_role("cell", name="points_earned")).to_be_visible()
        expect(page.get_by_text("Delivered")).to_be_visible()
        assert len(_Receiver.received) == 1
        check_page(browser_page, "console-webhook-deliveries")

        # when the owner sends that delivery again
        page.get_by_role("button", name="Send again").click()
        expect(page.get_by_text("is queued to be sent again")).to_be_visible()
        # then the app receives it a second time, with the same delivery id
        assert len(_Receiver.received) == 2
        assert _Receiver.received[0] == _Receiver.received[1]
        check_page(browser_page, "console-webhook-redelivered")

        # when the owner revokes the key, after confirming
        page.get_by_role("link", name="Back to integration").click()
        page.get_by_role("link", name="Revoke Web shop").click()
        check_page(browser_page, "console-api-key-revoke")
        page.get_by_role("button", name="Revoke key").click()
        expect(page.get_by_text("is revoked")).to_be_visible()
        # then the app is refused
        status = _api(live_server_url, host, key, s.REWARDS_QUERY, {})
        assert status == 401

        # and disabling the endpoint asks first, then stops it
        page.get_by_role("link", name=f"Disable {hook_url}").click()
        check_page(browser_page, "console-webhook-disable")
        page.get_by_role("button", name="Disable endpoint").click()
        expect(page.get_by_role("cell", name="Disabled")).to_be_visible()
        check_page(browser_page, "console-integration-after")
    finally:
        receiver.shutdown()
        receiver.server_close()
