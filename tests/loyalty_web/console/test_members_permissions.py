"""The member pages (look-up, member, history and its CSV, purchase, return) per role:
every member of staff looks members up, owners and managers record returns, exports
need the export capability; another partner's staff and anonymous visitors are sent
to log in. A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.ledger.models import Transaction
from tenants.partners.models import Partner
from tenants.purchases import services as purchases
from tenants.purchases.models import Purchase, PurchaseLine, PurchaseReturn
from tests.testkit import in_partner
from tests.testkit.api import funded_member, publish_rules, service_receipt
from tests.testkit.console import ALL_STAFF, ROLES, assert_page_answers_role, login_as

pytestmark = pytest.mark.django_db

RETURNERS = frozenset({"owner", "manager"})
EXPORTERS = frozenset({"owner", "manager", "analyst"})


def _state(partner: Partner) -> tuple[Any, ...]:
    with in_partner(partner):
        return (
            sorted(PurchaseLine.objects.values_list("id", "returned_quantity")),
            PurchaseReturn.objects.count(),
            sorted(Purchase.objects.values_list("id", "points_reversed")),
            Transaction.objects.count(),
            AuditEntry.objects.count(),
        )


def _purchase(partner: Partner) -> dict[str, Any]:
    publish_rules(partner)
    member = funded_member(partner, 100, prefix="perm")
    with in_partner(partner):
        result = purchases.purchase_record(service_receipt(member, partner.default_currency))
        purchase = Purchase.objects.get(external_id=result.external_id)
    return {"number": member.member_number, "purchase": purchase.pk, "email": member.email}


Setup = Callable[[Partner], dict[str, Any]]
Request = Callable[[Client, dict[str, Any]], Any]


def _return(c: Client, a: dict[str, Any]) -> Any:
    return c.post(
        f"/members/{a['number']}/purchases/{a['purchase']}/",
        {"line_1": "1", "idempotency_key": uuid4().hex},
    )


PAGES: dict[str, tuple[Setup, Request, frozenset[str]]] = {
    "look-up": (_purchase, lambda c, a: c.get("/members/"), ALL_STAFF),
    "look-up by e-mail": (_purchase, lambda c, a: c.get("/members/", {"q": a["email"]}),
                          ALL_STAFF),
    "member": (_purchase, lambda c, a: c.get(f"/members/{a['number']}/"), ALL_STAFF),
    "history": (_purchase, lambda c, a: c.get(f"/members/{a['number']}/history/"), ALL_STAFF),
    "history CSV": (_purchase, lambda c, a: c.get(
        f"/members/{a['number']}/history/", {"format": "csv"}), EXPORTERS),
    "purchase": (_purchase, lambda c, a: c.get(
        f"/members/{a['number']}/purchases/{a['purchase']}/"), ALL_STAFF),
    "record a return": (_purchase, _return, RETURNERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_member_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    setup, request, allowed = PAGES[page]
    # given someone in this role and a member with a purchase here, when they open the page or
    # press its button: staff with the capability get it, and everyone else is refused; a refusal
    # changes nothing
    assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=allowed,
        setup=setup,
        request=request,
        state=lambda _arguments: _state(partner_a),
    )


def test_a_purchase_of_another_partner_is_not_found_here(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a manager of alpha, and a purchase the member made at beta
    client, _user = login_as(partner_a, "manager", partner_b)
    arguments = _purchase(partner_b)
    before = _state(partner_b)
    # when the manager opens it or returns it on alpha's host
    page = client.get(f"/members/{arguments['number']}/purchases/{arguments['purchase']}/")
    returned = _return(client, arguments)
    # then it does not exist here, and nothing changed at beta
    assert page.status_code == returned.status_code == 404
    assert _state(partner_b) == before
