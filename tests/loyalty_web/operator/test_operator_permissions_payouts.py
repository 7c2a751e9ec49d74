"""Every payout page of the operator console per role: admin, finance, support,
read-only, a partner's staff (signed in to its console), a member (signed in to
the portal) and an anonymous visitor. Admins, finance and read-only staff read
payouts, reconciliation and charity payouts; only admins and finance pay, retry
and reconcile. Operator staff without the capability get 403; anyone else is
sent to the operator log-in. A denied request changes nothing: no statement, no
job, no audit entry, no call to Stripe."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.settlement.models import PayoutJob, PayoutJobKind, PayoutJobStatus, Statement
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tenants.partners.models import Partner
from tests.testkit.operator import ROLES, assert_answer, login_as
from tests.testkit.payouts import PeriodToPay, eager_jobs, refused_payout_between
from tests.testkit.settlement import running_stripe_fake

pytestmark = pytest.mark.django_db

READERS = frozenset({"admin", "finance", "read_only"})
PAYERS = frozenset({"admin", "finance"})


def _state(stripe: FakeStripeServer) -> tuple[Any, ...]:
    return (
        sorted(
            Statement.objects.values_list(
                "id", "payment_status", "stripe_object_id", "payout_attempts"
            )
        ),
        PayoutJob.objects.count(),
        AuditEntry.objects.count(),
        len(stripe.state.requests),
    )


def _key() -> dict[str, str]:
    return {"idempotency_key": uuid.uuid4().hex}


Request = Callable[[Client, PeriodToPay, int], Any]
BASE = "/operator/settlement"

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "payouts": (lambda c, p, j: c.get(f"{BASE}/payouts/"), READERS),
    "payouts (csv)": (lambda c, p, j: c.get(f"{BASE}/payouts/", {"format": "csv"}), READERS),
    "retry (check)": (lambda c, p, j: c.get(
        f"{BASE}/payouts/{p.statement(p.refused).pk}/retry/"), PAYERS),
    "retry": (lambda c, p, j: c.post(
        f"{BASE}/payouts/{p.statement(p.refused).pk}/retry/", _key()), PAYERS),
    "pay out a period (check)": (lambda c, p, j: c.get(
        f"{BASE}/payouts/periods/{p.period.number}/"), PAYERS),
    "pay out a period": (lambda c, p, j: c.post(
        f"{BASE}/payouts/periods/{p.period.number}/", _key()), PAYERS),
    "payout run": (lambda c, p, j: c.get(f"{BASE}/payouts/runs/{j}/"), READERS),
    "reconciliation": (lambda c, p, j: c.get(f"{BASE}/reconciliation/"), READERS),
    "reconciliation (csv)": (lambda c, p, j: c.get(
        f"{BASE}/reconciliation/", {"format": "csv"}), READERS),
    "reconcile": (lambda c, p, j: c.post(f"{BASE}/reconciliation/", _key()), PAYERS),
    "charities": (lambda c, p, j: c.get(f"{BASE}/charities/"), READERS),
    "charities (csv)": (lambda c, p, j: c.get(f"{BASE}/charities/", {"format": "csv"}), READERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_payout_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    request, allowed = PAGES[page]
    with running_stripe_fake() as stripe, eager_jobs():
        # given a closed period with a refused payout, a payout run of it, and
        # someone in this role
        period = refused_payout_between(partner_a, partner_b)
        run = PayoutJob.objects.create(
            kind=PayoutJobKind.PERIOD, period=period.period, status=PayoutJobStatus.DONE,
            idempotency_scope="test", idempotency_key=uuid.uuid4().hex, request_hash="-",
        )  # fmt: skip
        client, _user = login_as(role, partner_a)
        before = _state(stripe)
        # when they open the page or press its button
        response = request(client, period, run.pk)
        # then the roles with the capability get it, and everyone else is refused
        if assert_answer(response, role=role, allowed=allowed, page=page):
            return
        # and nothing changed
        assert _state(stripe) == before


def test_the_payouts_area_is_in_the_navigation_of_the_roles_that_may_read_it(
    partner_a: Partner,
) -> None:
    for role in ("admin", "finance", "support", "read_only"):
        client, _ = login_as(role, partner_a)
        html = client.get("/operator/partners/").content.decode()
        assert ('href="/operator/settlement/payouts/"' in html) == (role in READERS), role


def test_read_only_staff_see_no_button_that_pays(partner_a: Partner, partner_b: Partner) -> None:
    # given a refused payout and a closed period with something to pay
    period = refused_payout_between(partner_a, partner_b)
    client, _ = login_as("read_only", partner_a)
    # when read-only staff read the payouts
    html = client.get(f"{BASE}/payouts/", {"period": period.period.number}).content.decode()
    # then they see the refusal but no retry or pay-out button
    assert "Refused by Stripe" in html
    assert "/retry/" not in html
    assert "/payouts/periods/" not in html
