"""Outbound webhooks under faults: a broker that is down never turns a committed
purchase into an error (the delivery stays pending for the sweep), and a delivery
task that meets a database blip is retried with backoff instead of being dropped
to wait for the sweep's five-minute margin. Data here is committed (``live_db``):
the faults happen after real commits, on a partner of the test's own."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery.exceptions import Retry
from django.db import OperationalError, connection
from django.utils import timezone

from coalition.webhooks import services as webhooks
from coalition.webhooks import tasks
from coalition.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from coalition.webhooks.tasks import deliver_webhook
from loyalty_platform.celery import app as celery_app
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit import free_port


@pytest.fixture
def own_partner(live_db: None) -> Partner:
    """A partner of this test's own, with rules in force (committed)."""
    partner = s.onboard(prefix="hooked", currency="EUR")
    s.publish_rules(partner)
    return partner


@pytest.fixture
def broker_down() -> Iterator[None]:
    """Celery sends to a broker at a port nobody listens on (not in-process)."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url

    def fresh_pools() -> None:
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    conf.task_always_eager = False
    conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    fresh_pools()
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved
        fresh_pools()


def test_a_purchase_committed_while_the_broker_is_down_is_answered_as_a_success(
    own_partner: Partner, broker_down: None, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a partner app listening for points_earned, and a member
    endpoint, _ = webhooks.webhook_endpoint_create(
        partner=own_partner, url=f"http://127.0.0.1:{free_port()}/hooks", events=["points_earned"]
    )
    member = s.enrol("broker")
    key = s.partner_key(own_partner, ["earn"])
    receipt = s.receipt(member.member_number, "EUR", [(1, 4200)])

    # when: a purchase is recorded over HTTP while the broker is down
    reply = s.gql(s.host_of(own_partner), s.RECORD_PURCHASE,
                  {"key": s.unique("k"), "receipt": receipt}, key)  # fmt: skip

    # then: the client is told the purchase succeeded, with its points
    assert reply.codes("recordPurchase") == []
    assert reply.payload("recordPurchase")["purchase"]["points"] == 42
    # and: the delivery is logged, pending, no attempt made; the enqueue failure was logged
    [delivery] = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert any("could not enqueue" in r.getMessage() or "failed" in r.getMessage()
               for r in caplog.records if r.levelno >= logging.ERROR)  # fmt: skip
    # and: the sweep finds it once it is overdue (the broker's margin later)
    later = timezone.now() + webhooks.SWEEP_MARGIN + timedelta(seconds=1)
    assert delivery.pk in webhooks.deliveries_sweep(now=later)


# --- a database blip during a delivery --------------------------------------------------------


class _Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, str]]:
    state = _Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.bodies.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _pending_delivery(partner: Partner, url: str) -> WebhookDelivery:
    endpoint = WebhookEndpoint.objects.create(
        partner=partner, url=url, secret="whsec_test", events=["points_earned"]
    )
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="points_earned", payload={"points": 5},
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(),
    )  # fmt: skip


def test_a_delivery_meeting_a_database_blip_is_retried_with_backoff(
    own_partner: Partner,
    receiver: tuple[_Receiver, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a pending delivery to a working receiver
    state, url = receiver
    delivery = _pending_delivery(own_partner, url)
    asked: list[dict[str, Any]] = []

    def recording_retry(**kwargs: Any) -> Retry:
        asked.append(kwargs)
        return Retry()

    monkeypatch.setattr(deliver_webhook, "retry", recording_retry)
    settings_dict: dict[str, Any] = connection.settings_dict
    saved = settings_dict["HOST"], settings_dict["PORT"]

    # when: a worker runs the task while the database cannot be reached
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(free_port())
    try:
        with pytest.raises(Retry):
            deliver_webhook(delivery.pk, 0)
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved

    # then: Celery is asked to run it again soon, with the same attempt count
    [retry] = asked
    assert retry["args"] == (delivery.pk, 0)
    assert retry["countdown"] == tasks.database_backoff(0) == 1
    assert isinstance(retry["exc"], OperationalError)
    # and: when the retry runs with the database back, it delivers, counting one attempt
    assert deliver_webhook(delivery.pk, 0) == DeliveryStatus.SUCCEEDED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    assert [body["id"] for body in state.bodies] == [delivery.pk]


def test_database_retries_back_off_and_stop_at_their_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: every attempt meets a database error
    lost = OperationalError("the database system is starting up")
    monkeypatch.setattr(tasks.services, "deliver", lambda *a, **k: (_ for _ in ()).throw(lost))
    asked: list[int] = []
    monkeypatch.setattr(
        deliver_webhook, "retry", lambda **kwargs: asked.append(kwargs["countdown"]) or Retry()
    )

    # when: the task runs as its 1st, 4th, 8th and last allowed retry
    outcomes = []
    for retries in (0, 3, 7, tasks.DATABASE_RETRIES):
        deliver_webhook.push_request(retries=retries, is_eager=False, id=str(uuid.uuid4()))
        try:
            outcomes.append(deliver_webhook.run(1, 0))
        except Retry:
            outcomes.append("retry")
        finally:
            deliver_webhook.pop_request()

    # then: 1, 8, 60 (capped) seconds, then it is left to the sweep
    assert asked == [1, 8, 60]
    assert outcomes == ["retry", "retry", "retry", "database_unavailable"]


def test_with_no_broker_a_database_error_is_left_to_the_sweep() -> None:
    # given: tasks run in-process (eager), where a retry would run at once
    lost = OperationalError("terminating connection due to administrator command")
    deliver_webhook.push_request(retries=0, is_eager=True, id=str(uuid.uuid4()))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(tasks.services, "deliver", lambda *a, **k: (_ for _ in ()).throw(lost))
            # when / then: no retry, no exception: the sweep makes the next attempt
            assert deliver_webhook.run(1, 0) == "database_unavailable"
    finally:
        deliver_webhook.pop_request()
