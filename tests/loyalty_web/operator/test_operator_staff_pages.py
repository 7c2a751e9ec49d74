"""The operator staff pages at work: the list with roles, two-step state and CSV;
an invitation e-mailed once per form (a double submit sends one), errors next to
their fields; role changes and removal refused for the last admin and oneself,
each leaving everything as it was; the invitee's page, its errors and its
one-time link; and the two-step page both consoles share."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail

from coalition.audit.models import AuditEntry
from coalition.operators.models import OperatorInvitation, OperatorMembership
from tenants.partners.models import Partner
from tests.testkit import host_client
from tests.testkit.console import login_as as console_login_as
from tests.testkit.operator import PASSWORD, operator, signed_in
from tests.testkit.portal import public_host

pytestmark = pytest.mark.django_db


def _state() -> tuple[Any, ...]:
    return (
        sorted(OperatorMembership.objects.values_list("user_id", "role")),
        sorted(OperatorInvitation.objects.values_list("id", "accepted_at", "revoked_at")),
        AuditEntry.objects.count(),
        len(mail.outbox),
    )


def _invite(client: Any, email: str, role: str = "finance", key: str | None = None) -> Any:
    return client.post(
        "/operator/staff/", {"email": email, "role": role, "request_key": key or uuid4().hex}
    )


def _link(email: str) -> str:
    (message,) = [m for m in mail.outbox if email in m.to]
    found = re.search(r"http://\S+/operator/invitation/(\S+)/", message.body)
    assert found is not None
    return f"/operator/invitation/{found.group(1)}/"


def test_the_list_shows_roles_two_step_state_and_exports_csv() -> None:
    admin = operator("admin")
    support = operator("support")
    client = signed_in(admin)
    html = client.get("/operator/staff/").content.decode()
    assert support.email in html
    assert "Operator staff" in html
    # admins cannot remove themselves: no link for their own row
    assert f"/operator/staff/{admin.pk}/remove/" not in html
    assert f"/operator/staff/{support.pk}/remove/" in html
    response = client.get("/operator/staff/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "email,role,two_step_sign_in,since"
    assert any(line.startswith(f"{admin.email},admin,on,") for line in lines)
    assert any(line.startswith(f"{support.email},support,off,") for line in lines)


def test_a_double_submit_sends_one_invitation_whose_link_works_once() -> None:
    admin = operator("admin")
    client = signed_in(admin)
    email, key = f"new-{uuid4().hex[:8]}@example.com", uuid4().hex
    # when the admin presses the button twice
    first = _invite(client, email, key=key)
    second = _invite(client, email, key=key)
    # then one invitation and one e-mail, both answers saying it is sent
    assert first.status_code == second.status_code == 302
    assert OperatorInvitation.objects.filter(email=email).count() == 1
    assert len([m for m in mail.outbox if email in m.to]) == 1
    listed = client.get("/operator/staff/").content.decode()
    assert email in listed  # among the invitations waiting
    waiting = client.get("/operator/staff/?format=csv&table=invitations")
    rows = b"".join(waiting.streaming_content).decode().splitlines()
    assert rows[0] == "email,role,invited_by,sent_at,expires_at"
    assert any(row.startswith(f"{email},finance,{admin.email},") for row in rows)
    # and the invitee's page names the role and takes a password
    link = _link(email)
    invitee = host_client(public_host())
    page = invitee.get(link).content.decode()
    assert "as Finance" in page
    mismatch = invitee.post(link, {"password": PASSWORD, "password_again": "other"})
    assert mismatch.status_code == 400
    assert "The two passwords are not the same" in mismatch.content.decode()
    accepted = invitee.post(link, {"password": PASSWORD, "password_again": PASSWORD})
    assert accepted["Location"] == "/operator/account/two-step/"
    assert OperatorMembership.objects.get(user__email=email).role == "finance"
    # the used link is refused with a clear page
    used = host_client(public_host()).get(link)
    assert used.status_code == 404
    assert "This invitation cannot be used" in used.content.decode()


def test_bad_invitations_are_explained_next_to_their_fields_and_change_nothing() -> None:
    admin = operator("admin")
    support = operator("support")
    client = signed_in(admin)
    before = _state()
    bad = _invite(client, "not an address")
    assert bad.status_code == 400
    assert 'id="id_email-error"' in bad.content.decode()
    taken = _invite(client, support.email)
    assert taken.status_code == 400
    assert "is operator staff already" in taken.content.decode()
    assert _state() == before


def test_withdrawing_an_invitation_kills_its_link() -> None:
    client = signed_in(operator("admin"))
    email = f"w-{uuid4().hex[:8]}@example.com"
    _invite(client, email, role="support")
    invitation = OperatorInvitation.objects.get(email=email)
    client.post(f"/operator/staff/invitations/{invitation.pk}/withdraw/")
    before = _state()
    again = client.post(f"/operator/staff/invitations/{invitation.pk}/withdraw/", follow=True)
    assert "already used, withdrawn or expired" in again.content.decode()
    assert _state() == before
    assert host_client(public_host()).get(_link(email)).status_code == 404


def test_roles_change_but_the_last_admin_and_oneself_stay() -> None:
    admin = operator("admin")
    support = operator("support")
    client = signed_in(admin)
    changed = client.post(f"/operator/staff/{support.pk}/role/", {"role": "read_only"}, follow=True)
    assert f"{support.email} is now Read-only." in changed.content.decode()
    assert OperatorMembership.objects.get(user=support).role == "read_only"
    # the admin cannot remove themselves, even with another admin to stay
    operator("admin")
    before = _state()
    self_removal = client.post(f"/operator/staff/{admin.pk}/remove/", follow=True)
    assert "You cannot remove yourself" in self_removal.content.decode()
    assert _state() == before
    # nor demote the last admin
    OperatorMembership.objects.filter(role="admin").exclude(user=admin).delete()
    before = _state()
    demoted = client.post(f"/operator/staff/{admin.pk}/role/", {"role": "finance"}, follow=True)
    assert "at least one operator admin" in demoted.content.decode()
    assert _state() == before
    # an unknown role is refused by the form
    unknown = client.post(f"/operator/staff/{support.pk}/role/", {"role": "owner"}, follow=True)
    assert "Choose a role" in unknown.content.decode()
    assert _state() == before


def test_removal_asks_first_then_takes_access_away_once() -> None:
    client = signed_in(operator("admin"))
    support = operator("support")
    confirm = client.get(f"/operator/staff/{support.pk}/remove/").content.decode()
    assert f"Remove {support.email}?" in confirm
    removed = client.post(f"/operator/staff/{support.pk}/remove/", follow=True).content.decode()
    assert "no longer has access to the operator console" in removed
    assert not OperatorMembership.objects.filter(user=support).exists()
    assert AuditEntry.objects.filter(action="operator.remove", before__user_id=support.pk).exists()
    # the button pressed again: nothing more happens
    before = _state()
    again = client.post(f"/operator/staff/{support.pk}/remove/", follow=True).content.decode()
    assert "no longer operator staff" in again
    assert _state() == before
    assert client.get(f"/operator/staff/{support.pk}/remove/").status_code == 404
    # and the removed person's session opens nothing any more
    assert signed_in(support).get("/operator/partners/").status_code == 302


def test_both_consoles_share_the_two_step_page(partner_a: Partner, partner_b: Partner) -> None:
    # the operator's page says the role needs it and offers no way to turn it off
    finance = signed_in(operator("finance")).get("/operator/account/two-step/").content.decode()
    assert "Your role needs it, so it stays on." in finance
    assert "Turn off two-step sign-in" not in finance
    new_admin = signed_in(operator("admin", two_step=False))
    waiting = new_admin.get("/operator/account/two-step/").content.decode()
    assert "Your role (admin or finance) needs two-step sign-in." in waiting
    assert "Set up two-step sign-in" in waiting
    # support may turn it off; the console's page, from the same include, too
    support = signed_in(operator("support", two_step=True))
    assert (
        "Turn off two-step sign-in" in support.get("/operator/account/two-step/").content.decode()
    )
    staff_client, _user = console_login_as(partner_a, "manager", partner_b)
    console = staff_client.get("/account/two-step/").content.decode()
    assert "Two-step sign-in is off" in console
    assert "Your role" not in console
