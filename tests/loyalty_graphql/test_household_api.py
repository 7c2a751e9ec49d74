"""Member apps run a household and send points by e-mail over the coalition API
(member token): create, invite, accept, leave, the allowance left this year; typed
errors change nothing; queries cost a fixed number of statements."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.ledger import selectors as ledger_selectors
from coalition.members.services import member_enrol
from coalition.transfers import services as transfers
from coalition.transfers.models import HouseholdInvite, TransferCap
from loyalty_graphql.auth import member_token_issue
from tenants.partners.models import Partner
from tests.testkit import api as s

pytestmark = pytest.mark.django_db(transaction=False)


def _refused(token: str, document: str, variables: dict[str, Any], name: str) -> list[str]:
    before = s.books()
    reply = s.gql(s.PUBLIC_HOST, document, variables, token)
    payload = reply.payload(name)
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    assert s.books() == before
    return reply.codes(name)


def test_a_member_app_runs_a_household_from_creation_to_leaving(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: two members with tokens
    head = member_enrol(email=f"head-{uuid4().hex[:8]}@example.com")
    guest = member_enrol(email=f"guest-{uuid4().hex[:8]}@example.com")
    heads, guests = member_token_issue(head.pk), member_token_issue(guest.pk)

    # when: the head creates a household and invites the guest
    created = s.gql(s.PUBLIC_HOST, s.CREATE_HOUSEHOLD, {"key": "c", "name": "Flat 3"}, heads)
    household = created.payload("createHousehold")
    assert household["errors"] == []
    assert household["household"]["name"] == "Flat 3"
    assert household["household"]["isHead"] is True
    with django_capture_on_commit_callbacks(execute=True):
        invited = s.gql(
            s.PUBLIC_HOST, s.INVITE_TO_HOUSEHOLD, {"key": "i", "email": guest.email}, heads
        ).payload("inviteToHousehold")
    assert invited["errors"] == []
    assert invited["invite"]["householdName"] == "Flat 3"
    assert mail.outbox[-1].to == [guest.email]
    assert "/portal/household/" in mail.outbox[-1].body

    # then: the guest sees the invitation and accepts it
    mine = s.gql(s.PUBLIC_HOST, s.MY_HOUSEHOLD_QUERY, {}, guests).body["data"]
    assert mine["myHousehold"] is None
    assert [i["id"] for i in mine["myHouseholdInvites"]] == [invited["invite"]["id"]]
    accepted = s.gql(
        s.PUBLIC_HOST, s.ACCEPT_HOUSEHOLD_INVITE, {"key": "a", "invite": invited["invite"]["id"]},
        guests,
    ).payload("acceptHouseholdInvite")  # fmt: skip
    assert accepted["errors"] == []
    members = accepted["household"]["members"]
    assert [(m["memberNumber"], m["isHead"], m["isYou"]) for m in members] == [
        (head.member_number, True, False),
        (guest.member_number, False, True),
    ]
    assert all("***@" in m["email"] for m in members)

    # when: the head tries to leave first, then the guest and the head leave
    assert _refused(heads, s.LEAVE_HOUSEHOLD, {"key": "l1"}, "leaveHousehold") == [
        "HOUSEHOLD_HEAD_CANNOT_LEAVE"
    ]
    for token in (guests, heads):
        left = s.gql(s.PUBLIC_HOST, s.LEAVE_HOUSEHOLD, {"key": "l2"}, token)
        assert left.payload("leaveHousehold") == {"left": True, "errors": []}
    assert s.gql(s.PUBLIC_HOST, s.MY_HOUSEHOLD_QUERY, {}, heads).body["data"]["myHousehold"] is None


@pytest.mark.parametrize(
    "code",
    ["NOT_HOUSEHOLD_HEAD", "NOT_IN_HOUSEHOLD", "ALREADY_IN_HOUSEHOLD", "HOUSEHOLD_INVITE_INVALID"],
)
def test_household_typed_errors_change_nothing(partner_a: Partner, code: str) -> None:
    # given: the coalition world (the member is in the friend's household)
    world = s.coalition_world(partner_a)
    member = member_token_issue(world.member.pk)
    loner = member_enrol(email=f"loner-{uuid4().hex[:8]}@example.com")
    loners = member_token_issue(loner.pk)
    if code == "NOT_HOUSEHOLD_HEAD":
        args = (member, s.INVITE_TO_HOUSEHOLD, {"key": "x", "email": "a@example.com"})
        name = "inviteToHousehold"
    elif code == "NOT_IN_HOUSEHOLD":
        args = (loners, s.LEAVE_HOUSEHOLD, {"key": "x"})
        name = "leaveHousehold"
    elif code == "ALREADY_IN_HOUSEHOLD":
        args = (member, s.CREATE_HOUSEHOLD, {"key": "x", "name": "Second"})
        name = "createHousehold"
    else:
        # an invitation for someone else's address
        invite = HouseholdInvite.objects.create(
            household=world.member.household_membership.household,
            email="someone-else@example.com",
            invited_by=world.friend,
            created_at=s.transaction_start(),
            expires_at=s.transaction_start().replace(year=2999),
        )
        args = (loners, s.ACCEPT_HOUSEHOLD_INVITE, {"key": "x", "invite": str(invite.pk)})
        name = "acceptHouseholdInvite"
    assert _refused(*args, name) == [code]


def test_transfer_points_by_email_and_the_allowance_left(partner_a: Partner) -> None:
    # given: a cap of 600 a year
    world = s.coalition_world(partner_a)
    TransferCap.objects.create(kind="transfer", tier_code="", yearly_points=600)
    token = member_token_issue(world.member.pk)

    # when: the member sends 200 to the friend's e-mail address
    sent = s.gql(
        s.PUBLIC_HOST, s.TRANSFER_POINTS_BY_EMAIL,
        {"key": "e1", "to": world.friend.email.upper(), "points": 200}, token,
    ).payload("transferPoints")  # fmt: skip

    # then: it moved, and 400 are left this year
    assert sent == {"balanceAfter": 800, "errors": []}
    assert ledger_selectors.balance(world.friend.pk) == 200
    allowance = s.gql(s.PUBLIC_HOST, s.MY_HOUSEHOLD_QUERY, {}, token).body["data"]
    assert {k: allowance["myTransferAllowance"][k] for k in ("cap", "used", "left")} == {
        "cap": 600, "used": 200, "left": 400,
    }  # fmt: skip

    # and an unknown or blocked address answers the same
    for address in ("nobody@example.com", world.member.email):
        codes = _refused(
            token, s.TRANSFER_POINTS_BY_EMAIL, {"key": uuid4().hex, "to": address, "points": 1},
            "transferPoints",
        )  # fmt: skip
        assert codes == (
            ["UNKNOWN_RECIPIENT"] if address.startswith("nobody") else ["TRANSFER_TO_SELF"]
        )


def test_the_household_queries_cost_a_fixed_number_of_statements(partner_a: Partner) -> None:
    world = s.coalition_world(partner_a)
    token = member_token_issue(world.friend.pk)  # the head: members and invitations
    for _ in range(3):
        mate = member_enrol(email=f"mate-{uuid4().hex[:8]}@example.com")
        world_household = world.member.household_membership.household
        transfers.household_join(household_id=world_household.pk, member_id=mate.pk)
        HouseholdInvite.objects.create(
            household=world_household,
            email=f"x-{uuid4().hex[:6]}@example.com",
            invited_by=world.friend,
            created_at=s.transaction_start(),
            expires_at=s.transaction_start().replace(year=2999),
        )
    with CaptureQueriesContext(connection) as captured:
        reply = s.gql(s.PUBLIC_HOST, s.MY_HOUSEHOLD_QUERY, {}, token)
    assert len(reply.body["data"]["myHousehold"]["members"]) == 5
    assert len(reply.body["data"]["myHousehold"]["pendingInvites"]) == 3
    assert len(captured) <= 14, [q["sql"] for q in captured]
