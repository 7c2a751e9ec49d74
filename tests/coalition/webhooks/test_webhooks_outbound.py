"""Outbound webhooks (coalition.webhooks): partner apps receive signed events for
points earned, redeemed and adjusted, tier changes and closed statements; failures are
retried with backoff, every attempt is in the delivery log, and the sweep
recovers deliveries whose worker or task was lost.

A real HTTP receiver runs in a thread on 127.0.0.1 and checks each request's
signature with the endpoint's secret, as a partner's server would. Celery runs
eagerly here (no broker): events sent on commit are delivered at once, a failed
attempt waits for the sweep, and the passing of time is the sweep's ``now``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from coalition.adjustments import services as adjustments
from coalition.adjustments.errors import AdjustmentExceedsBalance
from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.settlement.models import SettlementTerms, Statement
from coalition.tiers.models import TierLevel
from coalition.webhooks import services as webhooks
from coalition.webhooks import tasks
from coalition.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from coalition.webhooks.tasks import deliver_webhook
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.money import money
from loyalty_platform.inprocess_beat import InProcessBeat
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.purchases.services import Receipt, ReceiptLine, purchase_record
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPaymentSettings
from tests.testkit import free_port, in_partner
from tests.testkit.settlement import close_now


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A partner's webhook server: answers with the scripted status codes (then
    200) and verifies every signature with the secret registered for its path."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  # seconds each answer takes

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def at(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == f"/hooks/{name}"]

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        secret = self.secrets.get(path, "")
        ok = webhooks.verify_signature(secret, headers.get("X-Loyalty-Signature", ""), body)
        with self.lock:
            self.received.append(Received(path, headers, body, ok))
            status = self.script.pop(0) if self.script else 200
        time.sleep(self.delay)
        return status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.answer(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.url("elsewhere"))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _endpoint(
    receiver: Receiver, partner: Partner, name: str, events: list[str]
) -> WebhookEndpoint:
    endpoint, secret = webhooks.webhook_endpoint_create(
        partner=partner, url=receiver.url(name), events=events
    )
    receiver.secrets[f"/hooks/{name}"] = secret
    return endpoint


def _deliveries(endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id"))


def _publish_base_rate(partner: Partner) -> None:
    now = timezone.now()
    with in_partner(partner):
        version = earning.ruleset_draft_create()
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=version, effective_from=now, now=now)


def _purchase(partner: Partner, member: Member, external_id: str, total: int) -> int:
    with in_partner(partner):
        result = purchase_record(
            Receipt(
                external_id=external_id,
                member_id=member.pk,
                occurred_at=timezone.now(),
                currency="EUR",
                lines=(ReceiptLine("SKU-1", "food", 1, total),),
                total=total,
            )
        )
    return result.points


# --- events, signed and delivered ---------------------------------------------------------


def test_points_earned_is_delivered_signed_after_commit(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # given an endpoint subscribed to points_earned and a published base rate
    endpoint = _endpoint(receiver, partner_a, "till", ["points_earned"])
    _publish_base_rate(partner_a)
    member = member_enrol(email="hooked@example.com")

    # when a purchase is recorded and its transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        points = _purchase(partner_a, member, "R-100", 4200)

    # then one signed POST carried the event, and the log says it succeeded
    assert points == 42
    [request] = receiver.at("till")
    assert request.signature_ok
    [delivery] = _deliveries(endpoint)
    assert request.headers["X-Loyalty-Event"] == "points_earned"
    assert request.headers["X-Loyalty-Delivery"] == str(delivery.pk)
    assert request.headers["Content-Type"] == "application/json"
    assert request.json["id"] == delivery.pk
    assert request.json["type"] == "points_earned"
    assert request.json["data"] == {
        "external_id": "R-100",
        "member_number": member.member_number,
        "points": 42,
        "balance_after": 42,
    }
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None


def test_nothing_is_sent_before_commit_nor_for_a_rolled_back_event(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = _endpoint(receiver, partner_a, "till", ["points_earned"])

    # an event whose transaction rolls back leaves no delivery and sends nothing
    def failing_purchase() -> None:
        with transaction.atomic():
            webhooks.emit(partner_a.pk, "points_earned", {"points": 1})
            raise RuntimeError("the purchase failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_purchase()
    assert _deliveries(endpoint) == []

    # a committed one is logged as pending and sent only by the commit callback
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [delivery_id] = webhooks.emit(partner_a.pk, "points_earned", {"points": 2})
    assert WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.PENDING
    assert receiver.at("till") == []
    for callback in callbacks:
        callback()
    assert [r.json["data"] for r in receiver.at("till")] == [{"points": 2}]
    assert WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.SUCCEEDED


def test_points_redeemed_for_a_reward_and_a_points_payment(
    db: None,
    partner_a: Partner,
    partner_b: Partner,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given a member with points earned at A, and B's endpoint for redemptions
    endpoint = _endpoint(receiver, partner_b, "airline", ["points_redeemed"])
    member = member_enrol(email="spender@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1000)

    # when the member redeems a reward at B and pays part of a basket with points
    with django_capture_on_commit_callbacks(execute=True), in_partner(partner_b):
        rewards.reward_save(code="lounge", name="Lounge pass", points_price=400)
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code="lounge")
        PointsPaymentSettings.objects.create(value_per_point=Decimal("1"), currency="GBP")
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=250)
        rewards.points_payment_capture(payment_id=payment.payment_id, amount=200)

    # then B heard of both burns (the hold alone redeems nothing), signed
    received = receiver.at("airline")
    assert all(r.signature_ok for r in received)
    assert [r.json["data"] for r in received] == [
        {
            "member_number": member.member_number, "points": 400, "balance_after": 600,
            "reason": "reward", "reward_code": "lounge", "voucher_code": voucher.code,
        },
        {
            "member_number": member.member_number, "points": 200, "balance_after": 400,
            "reason": "points_payment", "payment_id": payment.payment_id,
        },
    ]  # fmt: skip
    assert [d.status for d in _deliveries(endpoint)] == [DeliveryStatus.SUCCEEDED] * 2


def test_tier_changes_go_to_every_subscribed_partner(
    db: None,
    partner_a: Partner,
    partner_b: Partner,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given tiers, and endpoints at both partners (tiers are coalition-wide)
    TierLevel.objects.create(code="blue", name="Blue", rank=0, threshold_points=0)
    TierLevel.objects.create(code="silver", name="Silver", rank=1, threshold_points=100)
    _endpoint(receiver, partner_a, "alpha", ["tier_changed"])
    _endpoint(receiver, partner_b, "beta", ["tier_changed", "points_earned"])
    _publish_base_rate(partner_a)
    member = member_enrol(email="climber@example.com")

    # when purchases at A place the member in blue, then lift them to silver
    with django_capture_on_commit_callbacks(execute=True):
        _purchase(partner_a, member, "T-1", 5000)
        _purchase(partner_a, member, "T-2", 6000)
        _purchase(partner_a, member, "T-3", 1000)  # no change: no event

    # then both partners received both changes, and B none of A's earn events
    for name in ("alpha", "beta"):
        received = receiver.at(name)
        assert all(r.signature_ok for r in received)
        assert {r.headers["X-Loyalty-Event"] for r in received} == {"tier_changed"}
        changes = [
            (r.json["data"]["member_number"], r.json["data"]["from_tier"],
             r.json["data"]["to_tier"], r.json["data"]["qualifying_points"])
            for r in received
        ]  # fmt: skip
        assert changes == [
            (member.member_number, None, "blue", 50),
            (member.member_number, "blue", "silver", 110),
        ]


def test_statement_closed_per_partner_statement(
    db: None,
    partner_a: Partner,
    partner_b: Partner,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given terms for every partner, and A's endpoint for closed statements
    covered = SettlementTerms.objects.values("partner_id")
    SettlementTerms.objects.bulk_create(
        SettlementTerms(
            partner=partner,
            effective_from=datetime(2000, 1, 1, tzinfo=UTC),
            currency=partner.default_currency,
            issuance_price=Decimal("0.01"),
            reimbursement_rate=Decimal("0.01"),
        )
        for partner in Partner.objects.exclude(pk__in=covered)
    )
    endpoint = _endpoint(receiver, partner_a, "finance", ["statement_closed"])
    member = member_enrol(email="settled@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=500)
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=300)

    # when the operator closes the period
    with django_capture_on_commit_callbacks(execute=True):
        period = close_now()

    # then A heard of A's statement only, with its net
    statement = Statement.objects.get(period=period, partner=partner_a)
    [request] = receiver.at("finance")
    assert request.signature_ok
    assert request.headers["X-Loyalty-Event"] == "statement_closed"
    assert request.json["data"] == {
        "period": period.number,
        "statement_id": statement.pk,
        "net": money(statement.net_amount, statement.currency),
        "payment_status": statement.payment_status,
    }
    assert Statement.objects.filter(period=period, partner=partner_b).exists()
    assert [d.status for d in _deliveries(endpoint)] == [DeliveryStatus.SUCCEEDED]


def test_unsubscribed_events_inactive_endpoints_and_other_partners_get_nothing(
    db: None,
    partner_a: Partner,
    partner_b: Partner,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: A's endpoint for statements only, A's inactive endpoint for earns,
    # B's endpoint for earns
    statements_only = _endpoint(receiver, partner_a, "statements", ["statement_closed"])
    inactive = _endpoint(receiver, partner_a, "inactive", ["points_earned"])
    webhooks.webhook_endpoint_deactivate(endpoint=inactive)
    other_partner = _endpoint(receiver, partner_b, "beta", ["points_earned"])

    # when A emits points_earned
    with django_capture_on_commit_callbacks(execute=True):
        delivered_to = webhooks.emit(partner_a.pk, "points_earned", {"points": 5})

    # then nobody is sent anything and the log has no row
    assert delivered_to == []
    assert receiver.received == []
    for endpoint in (statements_only, inactive, other_partner):
        assert _deliveries(endpoint) == []


# --- retries and the delivery log ----------------------------------------------------------


def _later(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


def test_in_process_a_failed_attempt_waits_for_the_sweep_instead_of_retrying_at_once(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # given a receiver that fails twice (500, then 503), then accepts
    endpoint = _endpoint(receiver, partner_a, "flaky", ["points_earned"])
    receiver.script = [500, 503]

    # when an event is emitted and its transaction commits (Celery in-process)
    with django_capture_on_commit_callbacks(execute=True):
        [delivery_id] = webhooks.emit(partner_a.pk, "points_earned", {"points": 7})

    # then one attempt was made and the next is due in 2 s: nothing retried at once
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at is not None
    assert timedelta(seconds=1) < delivery.next_attempt_at - timezone.now() <= timedelta(seconds=2)
    assert len(receiver.at("flaky")) == 1
    # and a sweep before it is due leaves it waiting
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.deliveries_sweep(margin=timedelta(0)) == []
    assert len(receiver.at("flaky")) == 1

    # when sweeps run once each backoff (2 s, then 4 s) has passed
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.deliveries_sweep(margin=timedelta(0), now=_later(3)) == [delivery_id]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, 503)
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.deliveries_sweep(margin=timedelta(0), now=_later(5)) == [delivery_id]

    # then it arrived on the third attempt: same id and body, each freshly signed
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (3, 200, "")
    assert delivery.next_attempt_at is None
    received = receiver.at("flaky")
    assert len(received) == 3
    assert {r.headers["X-Loyalty-Delivery"] for r in received} == {str(delivery_id)}
    assert len({r.body for r in received}) == 1
    assert all(r.signature_ok for r in received)
    assert _deliveries(endpoint) == [delivery]


def test_the_in_process_beat_runs_the_sweep_that_makes_due_retries(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # given a delivery whose first attempt failed and whose retry is due
    _endpoint(receiver, partner_a, "flaky", ["points_earned"])
    receiver.script = [500]
    with django_capture_on_commit_callbacks(execute=True):
        [delivery_id] = webhooks.emit(partner_a.pk, "points_earned", {"points": 7})
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=_later(-1))

    # when the in-process beat (no broker) runs the configured webhook sweep
    beat = InProcessBeat({"sweep": settings.CELERY_BEAT_SCHEDULE["webhooks-sweep"]})
    with django_capture_on_commit_callbacks(execute=True):
        beat.run_due(now=beat.next_run["sweep"])

    # then the retry was made at once: without a broker the sweep takes no margin
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert len(receiver.at("flaky")) == 2


def test_with_a_broker_the_task_retries_after_the_backoff_carrying_its_attempt_count(
    db: None, partner_a: Partner, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a pending delivery (not committed: no task ran) to a failing receiver
    _endpoint(receiver, partner_a, "flaky", ["points_earned"])
    receiver.script = [500]
    [delivery_id] = webhooks.emit(partner_a.pk, "points_earned", {"points": 7})
    asked: list[dict[str, Any]] = []

    def recording_retry(**kwargs: Any) -> Retry:
        asked.append(kwargs)
        return Retry()

    monkeypatch.setattr(deliver_webhook, "retry", recording_retry)

    # when a worker runs the task (a direct call is not eager) and the attempt fails
    with pytest.raises(Retry):
        deliver_webhook(delivery_id, 0)

    # then Celery is asked to run it again in 2 s, expecting one attempt made
    assert asked == [{"args": (delivery_id, 1), "countdown": 2}]
    assert WebhookDelivery.objects.get(pk=delivery_id).attempts == 1


def test_each_attempt_is_recorded_with_the_next_attempt_time(
    db: None, partner_a: Partner, receiver: Receiver
) -> None:
    # given a pending delivery to a receiver that fails twice
    _endpoint(receiver, partner_a, "flaky", ["points_earned"])
    receiver.script = [500, 502]
    [delivery_id] = webhooks.emit(partner_a.pk, "points_earned", {"points": 7})
    row = WebhookDelivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, row.created_at)

    # when attempts are made one at a time, the log shows each
    first = webhooks.deliver(delivery_id)
    row.refresh_from_db()
    assert first == webhooks.AttemptResult("pending", 2, 1)
    assert (row.attempts, row.last_status_code, row.last_error) == (1, 500, "HTTP 500")
    assert row.next_attempt_at is not None
    assert timedelta(seconds=1) < row.next_attempt_at - timezone.now() <= timedelta(seconds=2)

    second = webhooks.deliver(delivery_id)
    row.refresh_from_db()
    assert second == webhooks.AttemptResult("pending", 4, 2)
    assert (row.attempts, row.last_status_code) == (2, 502)

    third = webhooks.deliver(delivery_id)
    row.refresh_from_db()
    assert third == webhooks.AttemptResult("succeeded", None, 3)
    assert (row.attempts, row.status, row.next_attempt_at) == (3, "succeeded", None)

    # and a finished delivery is never sent again (a repeated task is harmless)
    assert webhooks.deliver(delivery_id) == webhooks.AttemptResult("succeeded", None)
    assert len(receiver.at("flaky")) == 3


def test_gives_up_after_the_last_attempt(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # given a receiver that always fails, and one that is not listening at all
    _endpoint(receiver, partner_a, "down", ["points_earned"])
    receiver.script = [500] * 10
    closed, _ = webhooks.webhook_endpoint_create(
        partner=partner_a, url=f"http://127.0.0.1:{free_port()}/hook", events=["points_earned"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        delivery_ids = webhooks.emit(partner_a.pk, "points_earned", {"points": 1})

    # when sweeps run just before and just after each backoff (2, 4, 8, 16, 32 s)
    for wait in (2, 4, 8, 16, 32):
        with django_capture_on_commit_callbacks(execute=True):
            early = webhooks.deliveries_sweep(margin=timedelta(0), now=_later(wait - 1))
            due = webhooks.deliveries_sweep(margin=timedelta(0), now=_later(wait + 1))
        assert (early, due) == ([], sorted(delivery_ids))
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.deliveries_sweep(margin=timedelta(0), now=_later(3600)) == []

    # then both were tried MAX_ATTEMPTS times, then failed
    failing = {d.endpoint_id: d for d in WebhookDelivery.objects.filter(pk__in=delivery_ids)}
    assert len(failing) == 2
    for delivery in failing.values():
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.attempts == webhooks.MAX_ATTEMPTS == 6
        assert delivery.next_attempt_at is None
        assert delivery.delivered_at is None
    assert len(receiver.at("down")) == 6
    refused = failing[closed.pk]
    assert refused.last_status_code is None
    assert "refused" in refused.last_error.lower()
    assert [d.last_status_code for d in failing.values() if d.endpoint_id != closed.pk] == [500]


def test_a_redirect_is_a_failure_and_is_not_followed(
    db: None, partner_a: Partner, receiver: Receiver
) -> None:
    _endpoint(receiver, partner_a, "moved", ["points_earned"])
    receiver.script = [302]
    [delivery_id] = webhooks.emit(partner_a.pk, "points_earned", {"points": 1})

    assert webhooks.deliver(delivery_id).status == "pending"

    row = WebhookDelivery.objects.get(pk=delivery_id)
    assert (row.last_status_code, row.last_error) == (302, "HTTP 302")
    assert receiver.at("elsewhere") == []


def test_an_endpoint_deactivated_after_the_event_is_not_sent_it(
    db: None, partner_a: Partner, receiver: Receiver
) -> None:
    endpoint = _endpoint(receiver, partner_a, "gone", ["points_earned"])
    [delivery_id] = webhooks.emit(partner_a.pk, "points_earned", {"points": 1})
    webhooks.webhook_endpoint_deactivate(endpoint=endpoint)

    assert deliver_webhook.apply(args=[delivery_id]).get() == "failed"

    row = WebhookDelivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "the endpoint was deactivated"
    assert receiver.received == []


# --- the sweep: deliveries whose task or worker was lost ---------------------------------


def test_the_sweep_delivers_an_overdue_delivery_once_and_leaves_one_not_yet_due(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # given two deliveries whose tasks were lost (their commit callbacks never ran):
    # one overdue by more than the sweep's margin, one not due for ten minutes
    _endpoint(receiver, partner_a, "till", ["points_earned"])
    with django_capture_on_commit_callbacks(execute=False) as lost:
        [overdue] = webhooks.emit(partner_a.pk, "points_earned", {"points": 1})
    with django_capture_on_commit_callbacks(execute=False):
        [future] = webhooks.emit(partner_a.pk, "points_earned", {"points": 2})
    WebhookDelivery.objects.filter(pk=overdue).update(next_attempt_at=_later(-600))
    not_before = _later(600)
    WebhookDelivery.objects.filter(pk=future).update(next_attempt_at=not_before)

    # when the sweep runs twice in a row (with a broker's five-minute margin)
    with django_capture_on_commit_callbacks(execute=True):
        first = webhooks.deliveries_sweep()
        second = webhooks.deliveries_sweep()

    # then the overdue one was taken once and delivered; the other was left alone
    assert (first, second) == ([overdue], [])
    assert [r.json["data"] for r in receiver.at("till")] == [{"points": 1}]
    assert WebhookDelivery.objects.get(pk=overdue).status == DeliveryStatus.SUCCEEDED
    waiting = WebhookDelivery.objects.get(pk=future)
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == (
        "pending", 0, not_before,
    )  # fmt: skip

    # and should the lost task turn up after all, it sends nothing more: its claim
    # (expecting no attempt made yet) finds the delivery done
    [late_task] = lost
    late_task()
    assert len(receiver.at("till")) == 1


def test_the_sweep_task_takes_what_is_due_and_a_stale_task_claims_nothing(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # given a delivery whose first attempt failed, with its retry due
    _endpoint(receiver, partner_a, "till", ["points_earned"])
    receiver.script = [500]
    [delivery_id] = webhooks.emit(partner_a.pk, "points_earned", {"points": 1})
    assert webhooks.deliver(delivery_id, attempts=0).status == "pending"
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=_later(-1))

    # when a copy of the first attempt's task runs again, it claims nothing
    assert deliver_webhook.apply(args=[delivery_id, 0]).get() == "pending"
    assert len(receiver.at("till")) == 1

    # when the periodic task runs twice (no broker here: no margin)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep.apply().get() == 1
        assert tasks.sweep.apply().get() == 0

    # then the retry was made once
    assert len(receiver.at("till")) == 2
    row = WebhookDelivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts) == ("succeeded", 2)


def test_a_delivery_whose_worker_died_mid_attempt_is_tried_again_and_the_attempt_counts(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # given deliveries claimed by attempts whose worker died: one on its first
    # attempt and one on its last (leases long over), one whose lease still runs
    _endpoint(receiver, partner_a, "till", ["points_earned"])
    [first, last, running] = [
        webhooks.emit(partner_a.pk, "points_earned", {"points": points})[0] for points in (1, 2, 3)
    ]
    sending = WebhookDelivery.objects.filter(pk__in=[first, last])
    sending.update(status=DeliveryStatus.SENDING, attempts=1, next_attempt_at=_later(-600))
    WebhookDelivery.objects.filter(pk=last).update(attempts=webhooks.MAX_ATTEMPTS)
    WebhookDelivery.objects.filter(pk=running).update(
        status=DeliveryStatus.SENDING, attempts=1, next_attempt_at=_later(30)
    )

    # when the sweep runs
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.deliveries_sweep() == [first]

    # then the first is sent again, as its second attempt
    row = WebhookDelivery.objects.get(pk=first)
    assert (row.status, row.attempts) == ("succeeded", 2)
    assert [r.json["data"] for r in receiver.at("till")] == [{"points": 1}]
    # the one out of attempts failed without being sent, saying why
    row = WebhookDelivery.objects.get(pk=last)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 6, None)
    assert "interrupted" in row.last_error
    # and the running attempt was left to finish
    assert WebhookDelivery.objects.get(pk=running).status == DeliveryStatus.SENDING


def test_two_workers_given_one_delivery_send_it_once(
    live_db: None, partner_a: Partner, receiver: Receiver
) -> None:
    # given a committed pending delivery and a slow receiver
    endpoint = _endpoint(receiver, partner_a, "slow", ["points_earned"])
    receiver.delay = 0.5
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="points_earned", payload={"points": 1},
        next_attempt_at=timezone.now(),
    )  # fmt: skip
    results: list[webhooks.AttemptResult] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            start.wait(timeout=10)
            results.append(webhooks.deliver(delivery.pk, attempts=0))
        finally:
            connection.close()

    try:
        # when two workers attempt it at the same moment
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        # then one claimed and sent it; the other found it claimed and sent nothing
        assert sorted(result.status for result in results) == ["sending", "succeeded"]
        assert len(receiver.at("slow")) == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    finally:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


# --- endpoints and signatures -----------------------------------------------------------


def test_an_endpoint_secret_is_generated_and_stored_for_signing(
    db: None, partner_a: Partner
) -> None:
    endpoint, secret = webhooks.webhook_endpoint_create(
        partner=partner_a,
        url="https://till.example.com/hooks",
        events=["tier_changed", "points_earned", "points_earned"],
    )
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret
    assert endpoint.events == ["points_earned", "tier_changed"]
    _, other_secret = webhooks.webhook_endpoint_create(
        partner=partner_a, url="https://till.example.com/hooks", events=["points_earned"]
    )
    assert other_secret != secret


def test_two_registrations_racing_with_one_key_register_one_endpoint(
    live_db: None, partner_a: Partner
) -> None:
    # given: a registration that has inserted its endpoint but not committed yet, and
    # its twin (same key, same request) whose insert waits on it
    key = IdempotencyKey(f"partner:race-{uuid.uuid4().hex[:8]}", "hook-1")
    url = f"https://race-{uuid.uuid4().hex[:8]}.example.com/hooks"
    inserted, release = threading.Event(), threading.Event()
    twin_pid: list[int] = []
    answers: dict[str, tuple[WebhookEndpoint, str]] = {}
    failures: list[BaseException] = []

    def register() -> tuple[WebhookEndpoint, str]:
        return webhooks.webhook_endpoint_create(
            partner=partner_a, url=url, events=["points_earned"], idempotency=key
        )

    def first() -> None:
        try:
            with transaction.atomic():
                answers["first"] = register()
                inserted.set()
                assert release.wait(timeout=30)
        except BaseException as exc:
            failures.append(exc)
        finally:
            inserted.set()
            connection.close()

    def twin() -> None:
        try:
            assert inserted.wait(timeout=30)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                twin_pid.append(cursor.fetchone()[0])
            answers["twin"] = register()
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=twin)]
    try:
        for thread in threads:
            thread.start()
        # when: the twin is blocked on the first one's row, and the first one commits
        assert _waits_on_a_lock(twin_pid), "the twin never reached the insert"
        release.set()
        for thread in threads:
            thread.join(timeout=30)

        # then: both answer the one endpoint registered, with its secret
        assert failures == []
        (endpoint, secret), (twins, twin_secret) = answers["first"], answers["twin"]
        assert twins.pk == endpoint.pk
        assert twin_secret == secret == WebhookEndpoint.objects.get(pk=endpoint.pk).secret
        assert WebhookEndpoint.objects.filter(url=url).count() == 1
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
        WebhookEndpoint.objects.filter(url=url).delete()


def _waits_on_a_lock(pids: list[int], timeout: float = 10.0) -> bool:
    """Whether the backend whose pid lands in ``pids`` is soon waiting on a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pids:
            with connection.cursor() as cursor:
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", pids)
                row = cursor.fetchone()
            if row is not None and row[0] == "Lock":
                return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    ("url", "events"),
    [
        ("file:///etc/passwd", ["points_earned"]),
        ("ftp://example.com/hook", ["points_earned"]),
        ("https:///no-host", ["points_earned"]),
        ("https://example.com/hook", ["points_burned"]),
        ("https://example.com/hook", []),
    ],
)
def test_bad_endpoints_are_refused(
    db: None, partner_a: Partner, url: str, events: list[str]
) -> None:
    with pytest.raises(webhooks.InvalidWebhookEndpoint):
        webhooks.webhook_endpoint_create(partner=partner_a, url=url, events=events)
    assert not WebhookEndpoint.objects.filter(url=url).exists()


def test_emitting_an_unknown_event_is_a_programming_error(db: None, partner_a: Partner) -> None:
    with pytest.raises(ValueError, match="unknown webhook event"):
        webhooks.emit(partner_a.pk, "points_burned", {})


def test_signature_verification_rejects_tampering_and_old_timestamps() -> None:
    body = b'{"id":1}'
    header = webhooks.sign("whsec_x", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert webhooks.verify_signature("whsec_x", header, body, now=1_700_000_010)
    assert not webhooks.verify_signature("whsec_x", header, b'{"id":2}', now=1_700_000_010)
    assert not webhooks.verify_signature("whsec_y", header, body, now=1_700_000_010)
    assert not webhooks.verify_signature("whsec_x", header, body, now=1_700_000_000 + 301)
    assert not webhooks.verify_signature("whsec_x", "garbage", body, now=1_700_000_000)
    assert not webhooks.verify_signature("whsec_x", "t=abc,v1=00", body, now=1_700_000_000)


def test_points_adjusted_is_delivered_after_an_adjustment_and_not_again_on_a_replay(
    db: None, partner_a: Partner, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # given an endpoint subscribed to points_adjusted only, and a member
    endpoint = _endpoint(receiver, partner_a, "care", ["points_adjusted"])
    member = member_enrol(email=f"adjusted-{uuid.uuid4().hex[:8]}@example.com")
    key = IdempotencyKey("test:adjust", uuid.uuid4().hex)

    # when the partner adds points, retries the same request, then takes some back
    with django_capture_on_commit_callbacks(execute=True):
        added = adjustments.adjust_points(
            partner=partner_a, member=member, points=80, reason="parcel late",
            actor="tester", idempotency=key,
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        again = adjustments.adjust_points(
            partner=partner_a, member=member, points=80, reason="parcel late",
            actor="tester", idempotency=key,
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        adjustments.adjust_points(
            partner=partner_a, member=member, points=-30, reason="given twice",
            actor="tester", idempotency=None,
        )  # fmt: skip

    # then two signed events arrived (the replay sent none), each with what changed
    assert again.replayed
    requests = receiver.at("care")
    assert [r.headers["X-Loyalty-Event"] for r in requests] == ["points_adjusted"] * 2
    assert all(r.signature_ok for r in requests)
    assert requests[0].json["data"] == {
        "member_number": member.member_number,
        "points": 80,
        "reason": "parcel late",
        "balance_after": 80,
        "transaction_id": added.adjustment.ledger_transaction_id,
    }
    assert (requests[1].json["data"]["points"], requests[1].json["data"]["balance_after"]) == (
        -30,
        50,
    )
    assert [d.status for d in _deliveries(endpoint)] == [DeliveryStatus.SUCCEEDED] * 2


def test_a_refused_adjustment_sends_no_event(
    db: None, partner_a: Partner, partner_b: Partner, receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    endpoint = _endpoint(receiver, partner_a, "refused", ["points_adjusted"])
    member = member_enrol(email=f"refused-{uuid.uuid4().hex[:8]}@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=100)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(AdjustmentExceedsBalance):
        adjustments.adjust_points(
            partner=partner_a, member=member, points=-10, reason="not ours",
            actor="tester", idempotency=None,
        )  # fmt: skip
    assert receiver.at("refused") == []
    assert _deliveries(endpoint) == []
