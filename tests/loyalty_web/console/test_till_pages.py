"""The till's pages: a voucher code typed any way the member reads it; an unknown
code, a used voucher and another partner's voucher each said plainly; a double
submit uses a voucher once and authorises one payment; a bad amount, points the
member does not have and a capture above the hold are refused next to the field;
a partial capture gives the rest back; every action is audited."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.ledger import selectors as ledger_selectors
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPayment, Voucher
from tests.testkit import in_partner
from tests.testkit.console import login_as
from tests.testkit.till import authorised_payment, member_with_points, set_point_value, voucher_of

pytestmark = pytest.mark.django_db


def _html(response: Any) -> str:
    return response.content.decode()


def _cashier(partner_a: Partner, partner_b: Partner) -> Client:
    client, _user = login_as(partner_a, "cashier", partner_b)
    return client


def _status(partner: Partner, code: str) -> str:
    with in_partner(partner):
        return Voucher.objects.get(code=code).status


def _dashed(code: str) -> str:
    return f"{code[:4]}-{code[4:8]} {code[8:]}".lower()


def test_a_voucher_is_found_as_the_member_reads_it_and_used_once(
    partner_a: Partner, partner_b: Partner
) -> None:
    client = _cashier(partner_a, partner_b)
    member = member_with_points(partner_a, 500)
    voucher = voucher_of(partner_a, member, name="Free coffee")
    # when the cashier types the code in small letters with a dash and a space
    page = client.get("/till/voucher/", {"code": _dashed(voucher.code)})
    html = _html(page)
    # then the voucher, its state, its points and the member (e-mail in part) show
    assert page.status_code == 200
    assert "Free coffee" in html
    assert "Ready to use" in html
    assert member.member_number in html
    assert member.email not in html
    assert f"{member.email[0]}***@example.com" in html
    # when the button is pressed twice with the same key
    form = {"code": voucher.code, "idempotency_key": uuid4().hex}
    first = client.post("/till/voucher/", form, follow=True)
    second = client.post("/till/voucher/", form, follow=True)
    # then the voucher is used once and both presses say so
    assert "Voucher used: give the member “Free coffee”." in _html(first)
    assert "Voucher used: give the member “Free coffee”." in _html(second)
    assert _status(partner_a, voucher.code) == "consumed"
    entries = AuditEntry.objects.filter(action="till.voucher_consumed", object_id=str(voucher.pk))
    assert entries.count() == 1
    assert entries.get().actor_label.startswith("cashier-")
    # and looking it up again says it was used, with no button
    again = _html(client.get("/till/voucher/", {"code": voucher.code}))
    assert "Already used" in again
    assert "Do not give the reward again." in again
    assert "Use voucher" not in again


def test_a_second_use_with_another_key_is_refused(partner_a: Partner, partner_b: Partner) -> None:
    client = _cashier(partner_a, partner_b)
    voucher = voucher_of(partner_a, member_with_points(partner_a, 500))
    client.post("/till/voucher/", {"code": voucher.code, "idempotency_key": uuid4().hex})
    # another till (another key) tries the same voucher
    response = client.post("/till/voucher/", {"code": voucher.code, "idempotency_key": uuid4().hex})
    html = _html(response)
    assert response.status_code == 400
    assert 'id="id_code-error"' in html
    assert "This voucher has already been used." in html
    assert AuditEntry.objects.filter(action="till.voucher_consumed").count() == 1


def test_unknown_malformed_and_other_partners_codes_are_said_plainly(
    partner_a: Partner, partner_b: Partner
) -> None:
    client = _cashier(partner_a, partner_b)
    member = member_with_points(partner_a, 500)
    betas = voucher_of(partner_b, member, name="Lounge pass")
    for code in ("NOT-A-CODE", betas.code, "0" * 13):
        response = client.get("/till/voucher/", {"code": code})
        html = _html(response)
        assert response.status_code == 400, code
        assert 'id="id_code-error"' in html
        assert "This is not a voucher of this partner." in html
        # nothing of the other partner's voucher leaks
        assert "Lounge pass" not in html
        assert member.member_number not in html
    # an empty box asks for the code
    empty = client.get("/till/voucher/", {"code": ""})
    assert "Enter the voucher code" in _html(empty)
    # and the other partner's voucher cannot be used here either
    used = client.post("/till/voucher/", {"code": betas.code, "idempotency_key": uuid4().hex})
    assert used.status_code == 400
    assert _status(partner_b, betas.code) == "issued"


def test_a_cancelled_voucher_says_so(partner_a: Partner, partner_b: Partner) -> None:
    client = _cashier(partner_a, partner_b)
    voucher = voucher_of(partner_a, member_with_points(partner_a, 500))
    with in_partner(partner_a):
        rewards.voucher_cancel(code=voucher.code)
    html = _html(client.get("/till/voucher/", {"code": voucher.code}))
    assert "Cancelled" in html
    assert "It cannot be used." in html
    assert "Use voucher" not in html


def test_the_check_shows_value_points_and_balance_then_one_payment_per_key(
    partner_a: Partner, partner_b: Partner
) -> None:
    client = _cashier(partner_a, partner_b)
    set_point_value(partner_a, "0.5")  # a point pays for half a cent
    member = member_with_points(partner_a, 5000)
    # when the cashier asks what 12,50 EUR takes
    check = client.get("/till/payments/new/", {"member": member.member_number, "amount": "12,50"})
    html = _html(check)
    # then 2,500 points, the value of a point and the balance before and after show
    assert check.status_code == 200
    assert "12.50 EUR" in html
    assert "100 points pay for 0.50 EUR" in html
    assert "2,500" in html
    assert "5,000" in html
    assert "Authorise payment" in html
    # "12.50" is the same amount
    assert "2,500" in _html(
        client.get("/till/payments/new/", {"member": member.member_number, "amount": "12.50"})
    )
    # when the authorise button is pressed twice with the same key
    form = {"member": member.member_number, "amount": "1250", "idempotency_key": uuid4().hex}
    first = client.post("/till/payments/new/", form, follow=True)
    client.post("/till/payments/new/", form)
    # then one payment holds the points and waits at the till
    assert "Payment authorised: 2,500 points held for 12.50 EUR." in _html(first)
    with in_partner(partner_a):
        payments = list(PointsPayment.objects.filter(member_id=member.pk))
    assert [(p.points, p.amount, p.status) for p in payments] == [(2500, 1250, "authorized")]
    assert ledger_selectors.balance(member.pk) == 2500
    assert AuditEntry.objects.filter(action="till.payment_authorised").count() == 1
    till = _html(client.get("/till/"))
    assert member.member_number in till
    assert f"/till/payments/{payments[0].pk}/capture/" in till
    # and the cashier may not download them (no export), while a manager may
    assert 'href="?format=csv"' not in till
    refused = client.get("/till/?format=csv")
    assert refused.status_code == 403
    assert refused.get("Content-Type", "").startswith("text/html")
    manager, _user = login_as(partner_a, "manager", partner_b)
    assert 'href="?format=csv"' in _html(manager.get("/till/"))
    csv = b"".join(manager.get("/till/?format=csv").streaming_content).decode()
    assert f"{payments[0].pk},{member.member_number},12.50,EUR,2500,0.5," in csv


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter the amount to pay with points"),
        ("twelve", "Enter an amount in EUR, like 12.50"),
        ("12.505", "Enter an amount in EUR, like 12.50"),
        ("0", "Enter an amount of more than 0"),
        ("-3", "Enter an amount of more than 0"),
        ("60.00", "The member has 5,000 points and this amount takes 6,000."),
    ],
)
def test_a_bad_amount_is_refused_next_to_the_field(
    partner_a: Partner, partner_b: Partner, amount: str, message: str
) -> None:
    client = _cashier(partner_a, partner_b)
    set_point_value(partner_a, "1")
    member = member_with_points(partner_a, 5000)
    response = client.get("/till/payments/new/", {"member": member.member_number, "amount": amount})
    html = _html(response)
    assert response.status_code == 400
    assert 'id="id_amount-error"' in html
    assert message in html
    assert "Authorise payment" not in html


def test_an_unknown_member_and_no_point_value_are_said(
    partner_a: Partner, partner_b: Partner
) -> None:
    client = _cashier(partner_a, partner_b)
    set_point_value(partner_a, "1")
    response = client.get("/till/payments/new/", {"member": "0000000000", "amount": "5"})
    assert 'id="id_member-error"' in _html(response)
    assert "No member has this member number or card number." in _html(response)
    with in_partner(partner_a):
        from tenants.rewards.models import PointsPaymentSettings

        PointsPaymentSettings.objects.all().delete()
    member = member_with_points(partner_a, 500)
    response = client.get("/till/payments/new/", {"member": member.member_number, "amount": "5"})
    assert response.status_code == 400
    assert "Paying with points is not set up yet" in _html(response)


def test_a_partial_capture_gives_the_rest_back_and_above_the_hold_is_refused(
    partner_a: Partner, partner_b: Partner
) -> None:
    client = _cashier(partner_a, partner_b)
    set_point_value(partner_a, "1")
    member = member_with_points(partner_a, 1000)
    payment = authorised_payment(partner_a, member, 800)
    url = f"/till/payments/{payment.payment_id}/capture/"
    form = client.get(url)
    assert 'value="8.00"' in _html(form)
    # above the hold: refused next to the amount, nothing captured
    above = client.post(url, {"amount": "8,01", "idempotency_key": uuid4().hex})
    assert above.status_code == 400
    assert 'id="id_amount-error"' in _html(above)
    assert "Enter an amount of no more than 8.00 EUR, the amount authorised." in _html(above)
    with in_partner(partner_a):
        assert PointsPayment.objects.get(pk=payment.payment_id).status == "authorized"
    # part of it: 5,00 takes 500 points, 300 go back
    key = uuid4().hex
    done = client.post(url, {"amount": "5,00", "idempotency_key": key}, follow=True)
    assert "Payment captured: 500 points for 5.00 EUR." in _html(done)
    # pressed again: the same answer, nothing more
    again = client.post(url, {"amount": "5,00", "idempotency_key": key}, follow=True)
    assert "Payment captured: 500 points for 5.00 EUR." in _html(again)
    with in_partner(partner_a):
        captured = PointsPayment.objects.get(pk=payment.payment_id)
    assert (captured.status, captured.captured_points, captured.captured_amount) == (
        "captured", 500, 500,
    )  # fmt: skip
    assert ledger_selectors.balance(member.pk) == 500
    assert AuditEntry.objects.filter(action="till.payment_captured").count() == 1
    # it no longer waits at the till, and its pages are gone
    assert url not in _html(client.get("/till/"))
    assert client.get(url).status_code == 404
    # and capturing again with a new key says it was already captured
    late = client.post(url, {"amount": "1", "idempotency_key": uuid4().hex}, follow=True)
    assert "This payment was already captured or voided." in _html(late)


def test_voiding_asks_first_and_gives_the_points_back(
    partner_a: Partner, partner_b: Partner
) -> None:
    client = _cashier(partner_a, partner_b)
    set_point_value(partner_a, "1")
    member = member_with_points(partner_a, 1000)
    payment = authorised_payment(partner_a, member, 400)
    url = f"/till/payments/{payment.payment_id}/void/"
    confirm = _html(client.get(url))
    assert "Void the payment of 4.00 EUR?" in confirm
    assert "The 400 points held go back to the member" in confirm
    key = uuid4().hex
    done = client.post(url, {"idempotency_key": key}, follow=True)
    client.post(url, {"idempotency_key": key})
    assert "Payment voided: 400 points went back to the member." in _html(done)
    with in_partner(partner_a):
        assert PointsPayment.objects.get(pk=payment.payment_id).status == "voided"
    assert ledger_selectors.balance(member.pk) == 1000
    assert AuditEntry.objects.filter(action="till.payment_voided").count() == 1
    assert client.get(url).status_code == 404
