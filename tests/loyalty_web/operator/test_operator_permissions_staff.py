"""The operator staff pages per role: only admins list, invite, change roles,
remove and withdraw (and download the CSV); operator staff in other roles get 403,
partner staff, members and anonymous visitors are sent to the operator log-in. The
invitation page is public (its token is the key). A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.operators import services
from coalition.operators.models import OperatorInvitation, OperatorMembership
from tenants.partners.models import Partner
from tests.testkit import host_client
from tests.testkit.operator import PASSWORD, ROLES, assert_answer, login_as, operator
from tests.testkit.portal import public_host

pytestmark = pytest.mark.django_db

ADMIN = frozenset({"admin"})
EVERYONE = frozenset(ROLES)


def _state() -> tuple[Any, ...]:
    return (
        sorted(OperatorMembership.objects.values_list("user_id", "role")),
        sorted(OperatorInvitation.objects.values_list("id", "role", "accepted_at", "revoked_at")),
        AuditEntry.objects.count(),
        len(mail.outbox),
    )


def _targets() -> dict[str, Any]:
    """What the pages act on: a support operator and a pending invitation."""
    target = operator("support")
    invitation, token = services.operator_invite(
        email=f"invitee-{uuid4().hex[:8]}@example.com",
        role="finance",
        request_key=uuid4().hex,
        acting_user=None,
    )
    return {"user": target.pk, "invitation": invitation.pk, "token": token}


def _invite_form() -> dict[str, str]:
    return {
        "email": f"new-{uuid4().hex[:8]}@example.com",
        "role": "read_only",
        "request_key": uuid4().hex,
    }


Request = Callable[[Client, dict[str, Any]], Any]

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "staff list": (lambda c, a: c.get("/operator/staff/"), ADMIN),
    "staff list (csv)": (lambda c, a: c.get("/operator/staff/?format=csv"), ADMIN),
    "invitations (csv)": (lambda c, a: c.get("/operator/staff/?format=csv&table=invitations"),
                          ADMIN),
    "invite": (lambda c, a: c.post("/operator/staff/", _invite_form()), ADMIN),
    "change role": (lambda c, a: c.post(f"/operator/staff/{a['user']}/role/",
                                        {"role": "read_only"}), ADMIN),
    "remove (confirm)": (lambda c, a: c.get(f"/operator/staff/{a['user']}/remove/"), ADMIN),
    "remove": (lambda c, a: c.post(f"/operator/staff/{a['user']}/remove/"), ADMIN),
    "withdraw invitation": (
        lambda c, a: c.post(f"/operator/staff/invitations/{a['invitation']}/withdraw/"), ADMIN),
    "invitation page": (lambda c, a: c.get(f"/operator/invitation/{a['token']}/"), EVERYONE),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_operator_staff_page_answers_each_role(
    partner_a: Partner, page: str, role: str
) -> None:
    request, allowed = PAGES[page]
    # given someone in this role, an operator and an invitation the pages act on
    client, _user = login_as(role, partner_a)
    arguments = _targets()
    before = _state()
    # when they open the page or press its button
    response = request(client, arguments)
    # then admins get it, and everyone else is refused
    if assert_answer(response, role=role, allowed=allowed, page=page):
        if page == "invitation page":
            # (opening the invitation changes nothing either)
            assert _state() == before
        return
    # and nothing changed
    assert _state() == before


@pytest.mark.parametrize("role", ROLES)
def test_anyone_with_the_link_may_accept_it_once(partner_a: Partner, role: str) -> None:
    # given someone in this role holding an invitation link
    client, _user = login_as(role, partner_a)
    token = _targets()["token"]
    # when they accept it with a password
    response = client.post(
        f"/operator/invitation/{token}/", {"password": PASSWORD, "password_again": PASSWORD}
    )
    # then the invitee is signed in as finance and sent to set up two-step sign-in
    assert response.status_code == 302
    assert response["Location"] == "/operator/account/two-step/"
    # and the link does not work again
    before = _state()
    again = host_client(public_host()).post(
        f"/operator/invitation/{token}/", {"password": PASSWORD, "password_again": PASSWORD}
    )
    assert again.status_code == 404
    assert _state() == before
