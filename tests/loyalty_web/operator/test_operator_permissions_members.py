"""Every member support page of the operator console per role: admin, finance,
support, read-only, a partner's staff (signed in to its console), a member
(signed in to the portal) and an anonymous visitor. Read-only staff may look
members up and read them; only admins and support change anything. Operator
staff without the capability get 403; anyone else is sent to the operator
log-in. A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.members.models import Member
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.operator import ROLES, assert_answer, login_as

pytestmark = pytest.mark.django_db

LOOKERS = frozenset({"admin", "support", "read_only"})
SUPPORTERS = frozenset({"admin", "support"})


def _state() -> tuple[Any, ...]:
    return (
        sorted(Member.objects.values_list("id", "email", "phone", "status")),
        AuditEntry.objects.count(),
        len(mail.outbox),
    )


Request = Callable[[Client, Member], Any]

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "find (form)": (lambda c, m: c.get("/operator/members/"), LOOKERS),
    "find (by number)": (lambda c, m: c.get("/operator/members/", {"q": m.member_number}),
                         LOOKERS),
    "member": (lambda c, m: c.get(f"/operator/members/{m.member_number}/"), LOOKERS),
    "history": (lambda c, m: c.get(f"/operator/members/{m.member_number}/history/"), LOOKERS),
    "history (csv)": (lambda c, m: c.get(f"/operator/members/{m.member_number}/history/",
                                         {"format": "csv"}), LOOKERS),
    "block (confirm)": (lambda c, m: c.get(f"/operator/members/{m.member_number}/status/blocked/"),
                        SUPPORTERS),
    "block": (lambda c, m: c.post(f"/operator/members/{m.member_number}/status/blocked/",
                                  {"reason": "card reported stolen"}), SUPPORTERS),
    "unblock": (lambda c, m: c.post(f"/operator/members/{m.member_number}/status/active/",
                                    {"reason": "card found"}), SUPPORTERS),
    "erase (check)": (lambda c, m: c.get(f"/operator/members/{m.member_number}/erase/"),
                      SUPPORTERS),
    "erase": (lambda c, m: c.post(f"/operator/members/{m.member_number}/erase/",
                                  {"confirmation": m.member_number, "reason": "asked by letter"}),
              SUPPORTERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_member_support_page_answers_each_role(
    partner_a: Partner, page: str, role: str
) -> None:
    request, allowed = PAGES[page]
    # given a member with points, and someone in this role
    member = funded_member(partner_a, 25, prefix="perm")
    client, _user = login_as(role, partner_a)
    before = _state()
    # when they open the page or press its button
    response = request(client, member)
    # then the roles with the capability get it, and everyone else is refused
    if assert_answer(response, role=role, allowed=allowed, page=page):
        return
    # and nothing changed
    assert _state() == before


def test_the_members_area_is_in_the_navigation_of_the_roles_that_may_look(
    partner_a: Partner,
) -> None:
    for role in ("admin", "support", "read_only", "finance"):
        client, _ = login_as(role, partner_a)
        html = client.get("/operator/partners/").content.decode()
        assert ('href="/operator/members/"' in html) == (role in LOOKERS), role
