"""The member's points adjustment page per role: owners and managers open it, check
an adjustment and confirm it; cashiers and analysts are refused, another partner's
staff and anonymous visitors are sent to log in. A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.adjustments.models import Adjustment
from coalition.audit.models import AuditEntry
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.models import Transaction
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.console import ROLES, assert_page_answers_role, login_as

pytestmark = pytest.mark.django_db

ADJUSTERS = frozenset({"owner", "manager"})


def _state(member_id: int) -> tuple[Any, ...]:
    return (
        ledger_selectors.balance(member_id),
        Adjustment.objects.filter(member_id=member_id).count(),
        Transaction.objects.filter(member_id=member_id).count(),
        AuditEntry.objects.count(),
    )


def _form(direction: str, step: str) -> dict[str, str]:
    return {
        "direction": direction,
        "points": "25",
        "reason": "parcel delivered late",
        "idempotency_key": uuid4().hex,
        "step": step,
    }


Request = Callable[[Client, str], Any]

PAGES: dict[str, Request] = {
    "form": lambda c, number: c.get(f"/members/{number}/adjust/"),
    "check": lambda c, number: c.post(f"/members/{number}/adjust/", _form("add", "check")),
    "confirm an addition": lambda c, number: c.post(
        f"/members/{number}/adjust/", _form("add", "confirm")
    ),
    "confirm a taking back": lambda c, number: c.post(
        f"/members/{number}/adjust/", _form("take_back", "confirm")
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_the_adjustment_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    # given someone in this role and a member with 100 points, when they open the page or press
    # its button: owners and managers get it, others are refused and nothing changed
    answer = assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=ADJUSTERS,
        setup=lambda partner: funded_member(partner, 100, prefix="adjust-perm"),
        request=lambda client, member: PAGES[page](client, member.member_number),
        state=lambda member: _state(member.pk),
    )
    # and a confirmation, when allowed, posts once
    if answer.allowed and page.startswith("confirm"):
        member = answer.arguments
        assert answer.response.status_code == 302
        balance = 125 if page == "confirm an addition" else 75
        assert ledger_selectors.balance(member.pk) == balance
        assert Adjustment.objects.filter(member=member, partner=partner_a).count() == 1


def test_only_owners_and_managers_see_the_link_on_the_member_page(
    partner_a: Partner, partner_b: Partner
) -> None:
    member = funded_member(partner_a, 10, prefix="adjust-link")
    for role, shown in (("owner", True), ("manager", True), ("cashier", False), ("analyst", False)):
        client, _user = login_as(partner_a, role, partner_b)
        page = client.get(f"/members/{member.member_number}/").content.decode()
        assert (f"/members/{member.member_number}/adjust/" in page) is shown, role
