"""The till per role: owners, managers and cashiers check and use vouchers and take
points payments (authorise, capture, void); only owners and managers download the
payments waiting as CSV (cashiers lack ``export``); analysts are refused, another
partner's staff and anonymous visitors are sent to log in. A denied request changes nothing:
the voucher stays issued, no payment is created, captured or voided, nothing is
audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.ledger.models import Hold
from tenants.partners.models import Partner
from tenants.rewards.models import PointsPayment, Voucher
from tests.testkit import in_partner
from tests.testkit.console import ROLES, assert_page_answers_role, login_as
from tests.testkit.till import authorised_payment, member_with_points, set_point_value, voucher_of

pytestmark = pytest.mark.django_db

TILL = frozenset({"owner", "manager", "cashier"})
# Downloads need "export" as well: a cashier serves the till but exports nothing.
ALLOWED = {"till (csv)": frozenset({"owner", "manager"})}


def _state(partner: Partner) -> tuple[Any, ...]:
    with in_partner(partner):
        payments = sorted(
            PointsPayment.objects.values_list(
                "id", "hold_id", "status", "captured_points", "captured_amount"
            )
        )
        return (
            sorted(Voucher.objects.values_list("id", "status", "consumed_at")),
            payments,
            sorted(Hold.objects.filter(partner_id=partner.pk).values_list("id", "status")),
            AuditEntry.objects.count(),
        )


def _setup(partner: Partner) -> dict[str, Any]:
    set_point_value(partner, "1")
    member = member_with_points(partner, 1000)
    voucher = voucher_of(partner, member)
    payment = authorised_payment(partner, member, 300)
    return {"code": voucher.code, "member": member.member_number, "payment": payment.payment_id}


Request = Callable[[Client, dict[str, Any]], Any]

PAGES: dict[str, Request] = {
    "till": lambda c, a: c.get("/till/"),
    "till (csv)": lambda c, a: c.get("/till/?format=csv"),
    "check voucher": lambda c, a: c.get("/till/voucher/", {"code": a["code"]}),
    "use voucher": lambda c, a: c.post(
        "/till/voucher/", {"code": a["code"], "idempotency_key": uuid4().hex}
    ),
    "check payment": lambda c, a: c.get(
        "/till/payments/new/", {"member": a["member"], "amount": "2,50"}
    ),
    "authorise payment": lambda c, a: c.post(
        "/till/payments/new/",
        {"member": a["member"], "amount": "250", "idempotency_key": uuid4().hex},
    ),
    "capture (form)": lambda c, a: c.get(f"/till/payments/{a['payment']}/capture/"),
    "capture": lambda c, a: c.post(
        f"/till/payments/{a['payment']}/capture/",
        {"amount": "3.00", "idempotency_key": uuid4().hex},
    ),
    "void (confirm)": lambda c, a: c.get(f"/till/payments/{a['payment']}/void/"),
    "void": lambda c, a: c.post(
        f"/till/payments/{a['payment']}/void/", {"idempotency_key": uuid4().hex}
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_till_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    # given someone in this role, and a voucher and a payment waiting at the till, when they
    # open the page or press its button: owners, managers and cashiers get it (the CSV only
    # owners and managers), and everyone else is refused; a refusal changes nothing (the
    # voucher is still issued, no payment moved)
    assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=ALLOWED.get(page, TILL),
        setup=_setup,
        request=PAGES[page],
        state=lambda _arguments: _state(partner_a),
    )


def test_the_till_is_in_the_navigation_of_those_who_serve_it(
    partner_a: Partner, partner_b: Partner
) -> None:
    for role in ("owner", "manager", "cashier", "analyst"):
        client, _user = login_as(partner_a, role, partner_b)
        html = client.get("/").content.decode()
        assert ('href="/till/"' in html) == (role in TILL), role


def test_a_cashier_of_alpha_cannot_use_betas_till(partner_a: Partner, partner_b: Partner) -> None:
    # given a cashier signed in at alpha, and a voucher and a payment at beta
    client, _user = login_as(partner_a, "cashier", partner_b)
    arguments = _setup(partner_b)
    before = _state(partner_b)
    # when the session is sent to beta's host
    client.defaults["HTTP_HOST"] = f"{partner_b.slug}.localhost"
    use = PAGES["use voucher"](client, arguments)
    capture = PAGES["capture"](client, arguments)
    # then beta asks for a log-in and nothing changed there
    assert use.status_code == capture.status_code == 302
    assert use["Location"].startswith("/login/")
    assert _state(partner_b) == before
