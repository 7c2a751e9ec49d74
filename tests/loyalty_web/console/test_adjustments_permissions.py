"""The partner's adjustments list per role: owners, managers and analysts read it
(a report) and download it as CSV; cashiers are refused, another partner's staff
and anonymous visitors are sent to log in. Reading changes nothing, and neither
does a refusal. Who may adjust is tested with the member's adjustment page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from coalition.adjustments import services as adjustments
from coalition.adjustments.models import Adjustment
from coalition.audit.models import AuditEntry
from coalition.members.models import Member
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.console import ROLES, assert_page_answers_role, login_as

pytestmark = pytest.mark.django_db

READERS = frozenset({"owner", "manager", "analyst"})


def _adjusted(partner: Partner) -> Member:
    member = funded_member(partner, 0, prefix="adjust-list-perm")
    adjustments.adjust_points(
        partner=partner, member=member, points=15, reason="a goodwill gesture",
        actor="tester", idempotency=None,
    )  # fmt: skip
    return member


def _state(member: Member) -> tuple[Any, ...]:
    return (Adjustment.objects.filter(member=member).count(), AuditEntry.objects.count())


Request = Callable[[Client, Member], Any]

PAGES: dict[str, Request] = {
    "list": lambda c, m: c.get("/adjustments/"),
    "list (filtered)": lambda c, m: c.get("/adjustments/", {"since": "2026-01-01"}),
    "list (csv)": lambda c, m: c.get("/adjustments/", {"format": "csv"}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_the_adjustments_list_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    # given someone in this role and an adjustment, when they open the list or its CSV:
    # owners, managers and analysts get it, and everyone else is refused, changing nothing
    answer = assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=READERS,
        setup=_adjusted,
        request=PAGES[page],
        state=_state,
    )
    if answer.allowed:
        member = answer.arguments
        body = (
            b"".join(answer.response.streaming_content)
            if page.endswith("(csv)")
            else answer.response.content
        ).decode()
        assert member.member_number in body
        assert _state(member) == answer.before  # reading changes nothing


def test_the_adjustments_link_is_in_the_navigation_of_those_who_may_read_it(
    partner_a: Partner, partner_b: Partner
) -> None:
    for role in ("owner", "manager", "cashier", "analyst"):
        client, _user = login_as(partner_a, role, partner_b)
        html = client.get("/").content.decode()
        assert ('href="/adjustments/"' in html) == (role in READERS), role


def test_another_partners_adjustments_are_not_listed(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given an adjustment at beta
    theirs = _adjusted(partner_b)
    # when alpha's owner reads alpha's list and CSV, then beta's adjustment is in neither
    client, _user = login_as(partner_a, "owner", partner_b)
    page = client.get("/adjustments/").content.decode()
    csv = b"".join(client.get("/adjustments/?format=csv").streaming_content).decode()
    assert theirs.member_number not in page
    assert theirs.member_number not in csv
