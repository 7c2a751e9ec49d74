"""Give and share in the member portal: donating to a charity and sending points to
another member, each through a check page before it happens; the household (start,
invite, accept, pool, leave). Every page: anonymous visitors go to sign in, another
member's session sees and changes only its own things, CSRF is enforced, and a
refused request changes nothing."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from django.core import mail

from coalition.charity.models import Donation
from coalition.charity.services import charity_create
from coalition.ledger.models import Account
from coalition.ledger.selectors import account_balances, balance
from coalition.members.models import Member
from coalition.transfers import services as transfers
from coalition.transfers.models import (
    HouseholdInvite,
    HouseholdMembership,
    TransferCap,
    TransferKind,
    TransferRecord,
)
from tenants.partners.models import Partner
from tests.testkit import host_client
from tests.testkit.api import funded_member, unique
from tests.testkit.portal import portal_client, public_host

pytestmark = pytest.mark.django_db


def _cap(kind: str, points: int | None) -> None:
    TransferCap.objects.filter(kind=kind).delete()
    if points is not None:
        TransferCap.objects.create(kind=kind, tier_code="", yearly_points=points)


def _state() -> Any:
    accounts = list(Account.objects.values_list("pk", flat=True))
    return (
        sorted(account_balances(accounts).items()),
        Donation.objects.count(),
        TransferRecord.objects.count(),
        sorted(HouseholdMembership.objects.values_list("household_id", "member_id")),
        sorted(HouseholdInvite.objects.values_list("pk", "accepted_at")),
    )


def test_a_member_donates_after_checking_and_a_double_submit_gives_once(
    partner_a: Partner,
) -> None:
    # given a charity and a member with 300 points
    charity = charity_create(slug=unique("charity"), name=f"Food bank {uuid4().hex[:4]}")
    member = funded_member(partner_a, 300, "donor")
    client = portal_client(member)
    hub = client.get("/portal/give/").content.decode()
    assert charity.name in hub
    assert f"/portal/give/charities/{charity.slug}/" in hub

    # when they ask to give 120, then a check page shows the balance after
    check = client.post(
        f"/portal/give/charities/{charity.slug}/",
        {"points": "120", "idempotency_key": "k1", "step": "check"},
    )
    assert check.status_code == 200
    text = check.content.decode()
    assert "Check your donation" in text
    assert "180 points" in text
    assert balance(member.pk) == 300

    # when they confirm twice (a double submit), then one donation is made
    for _ in range(2):
        done = client.post(
            f"/portal/give/charities/{charity.slug}/",
            {"points": "120", "idempotency_key": "k1", "step": "confirm"},
        )
        assert done.status_code == 302
        assert done["Location"] == "/portal/give/"
    assert balance(member.pk) == 180
    assert Donation.objects.filter(charity=charity, member=member).count() == 1
    page = client.get("/portal/give/").content.decode()
    assert "you gave 120 points" in page
    assert "Members have given 120 points so far." in page


def test_a_donation_over_the_balance_or_of_nothing_is_refused_and_changes_nothing(
    partner_a: Partner,
) -> None:
    charity = charity_create(slug=unique("charity"), name="Shelter")
    client = portal_client(funded_member(partner_a, 50, "poor"))
    url = f"/portal/give/charities/{charity.slug}/"
    before = _state()
    short = client.post(url, {"points": "80", "idempotency_key": "a", "step": "confirm"})
    assert short.status_code == 400
    assert "points" in short.content.decode().lower()
    zero = client.post(url, {"points": "0", "idempotency_key": "b", "step": "check"})
    assert zero.status_code == 400
    assert "Enter a points value of 1 or more" in zero.content.decode()
    check = client.post(url, {"points": "80", "idempotency_key": "c", "step": "check"})
    assert "You have only 50 points" in check.content.decode()
    assert client.get("/portal/give/charities/no-such-charity/").status_code == 404
    assert _state() == before


def test_a_member_sends_points_by_number_or_email_with_the_cap_shown_first(
    partner_a: Partner,
) -> None:
    # given a yearly cap of 500 and a sender with 400 points
    _cap(TransferKind.TRANSFER, 500)
    sender = funded_member(partner_a, 400, "sender")
    friend = funded_member(partner_a, 0, "friend")
    client = portal_client(sender)
    assert (
        "You can send up to 500 points a year; 500 left"
        in client.get("/portal/give/transfer/").content.decode()
    )

    # when they name the friend by e-mail, then the check page shows what is left
    check = client.post(
        "/portal/give/transfer/",
        {"recipient": friend.email, "points": "100", "idempotency_key": "t1", "step": "check"},
    )
    text = check.content.decode()
    assert check.status_code == 200
    assert "Check before you send" in text
    assert "500 of 500 points" in text
    assert "300 points" in text  # the balance after
    assert friend.member_number not in text  # nothing more about the recipient
    assert balance(friend.pk) == 0

    # when they confirm (twice), then the points move once
    for _ in range(2):
        sent = client.post(
            "/portal/give/transfer/",
            {
                "recipient": friend.email,
                "points": "100",
                "idempotency_key": "t1",
                "step": "confirm",
            },
        )
        assert sent.status_code == 302
    assert (balance(sender.pk), balance(friend.pk)) == (300, 100)

    # and by member number, the allowance goes down
    client.post(
        "/portal/give/transfer/",
        {
            "recipient": friend.member_number,
            "points": "50",
            "idempotency_key": "t2",
            "step": "confirm",
        },
    )
    assert balance(friend.pk) == 150
    assert "350 left" in client.get("/portal/give/transfer/").content.decode()


@pytest.mark.parametrize(
    ("recipient", "points", "message"),
    [
        ("nobody-{tag}@example.com", "10", "No member can receive points"),
        ("0000000000", "10", "No member can receive points"),
        ("{self}", "10", "You cannot send points to yourself"),
        ("{friend}", "600", "cap is 500 points a year"),
        ("{friend}", "450", "points"),  # more than the balance, within the cap
    ],
)
def test_a_refused_transfer_says_why_next_to_the_field_and_changes_nothing(
    recipient: str, points: str, message: str, partner_a: Partner
) -> None:
    _cap(TransferKind.TRANSFER, 500)
    sender = funded_member(partner_a, 400, "sender")
    friend = funded_member(partner_a, 0, "friend")
    client = portal_client(sender)
    named = recipient.format(tag=uuid4().hex[:6], self=sender.email, friend=friend.email)
    before = _state()
    answer = client.post(
        "/portal/give/transfer/",
        {"recipient": named, "points": points, "idempotency_key": uuid4().hex, "step": "confirm"},
    )
    assert answer.status_code == 400, answer.content.decode()[:500]
    text = answer.content.decode()
    assert message in text
    assert "There is a problem" in text
    assert named in text  # what they typed is kept
    assert _state() == before


def test_a_household_is_started_joined_by_invitation_pooled_into_and_left(
    partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given two members
    _cap(TransferKind.HOUSEHOLD, None)
    head = funded_member(partner_a, 0, "head")
    guest = funded_member(partner_a, 90, "guest")
    heads, guests = portal_client(head), portal_client(guest)

    # when the head starts a household and invites the guest
    assert heads.post("/portal/household/create/", {"name": "The Garcias"}).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        invited = heads.post("/portal/household/invite/", {"email": guest.email})
    assert invited.status_code == 302
    assert mail.outbox[-1].to == [guest.email]
    assert guest.email in heads.get("/portal/household/").content.decode()

    # then the guest sees the invitation and accepts it
    page = guests.get("/portal/household/").content.decode()
    assert "The Garcias" in page
    invite = HouseholdInvite.objects.get(email=guest.email)
    assert guests.post(f"/portal/household/invites/{invite.pk}/accept/").status_code == 302
    page = guests.get("/portal/household/").content.decode()
    assert head.member_number in page
    assert "Pool points to the head" in page

    # when the guest pools 40 points (a double submit pools once)
    for _ in range(2):
        pooled = guests.post("/portal/household/pool/", {"points": "40", "idempotency_key": "p"})
        assert pooled.status_code == 302
    assert (balance(guest.pk), balance(head.pk)) == (50, 40)

    # then the head cannot leave first; the guest leaves, then the head
    refused = heads.post("/portal/household/leave/")
    assert refused.status_code == 400
    assert "you leave last" in refused.content.decode()
    assert guests.post("/portal/household/leave/").status_code == 302
    assert heads.post("/portal/household/leave/").status_code == 302
    assert "Start a household" in heads.get("/portal/household/").content.decode()


def test_household_forms_explain_what_is_wrong(partner_a: Partner) -> None:
    member = funded_member(partner_a, 10, "forms")
    client = portal_client(member)
    empty = client.post("/portal/household/create/", {"name": ""})
    assert empty.status_code == 400
    assert "Enter a name for your household" in empty.content.decode()
    before = _state()
    not_in = client.post("/portal/household/pool/", {"points": "5", "idempotency_key": "x"})
    assert not_in.status_code == 400
    assert "You do not belong to a household" in not_in.content.decode()
    invite = client.post("/portal/household/invite/", {"email": "someone@example.com"})
    assert invite.status_code == 400
    assert "You do not belong to a household yet" in invite.content.decode()
    assert _state() == before


# --- permissions -----------------------------------------------------------------------


def _world(partner: Partner) -> dict[str, Any]:
    """A member with a household, a pending invitation for someone else, a charity."""
    _cap(TransferKind.HOUSEHOLD, None)
    owner = funded_member(partner, 300, "owner")
    invited = funded_member(partner, 10, "invited")
    household = transfers.household_create(head_member_id=owner.pk, name=f"Home {uuid4().hex[:4]}")
    invite = transfers.household_invite(
        member_id=owner.pk, email=invited.email, invite_url="https://x/"
    )
    charity = charity_create(slug=unique("charity"), name="Shelter")
    return {
        "owner": owner,
        "invited": invited,
        "household": household,
        "invite": invite,
        "charity": charity,
    }


PAGES = (
    ("get", "/portal/give/"),
    ("get", "/portal/give/charities/{charity}/"),
    ("post", "/portal/give/charities/{charity}/"),
    ("get", "/portal/give/transfer/"),
    ("post", "/portal/give/transfer/"),
    ("get", "/portal/household/"),
    ("post", "/portal/household/create/"),
    ("post", "/portal/household/invite/"),
    ("post", "/portal/household/invites/{invite}/accept/"),
    ("post", "/portal/household/leave/"),
    ("post", "/portal/household/pool/"),
)
FORM = {
    "points": "10",
    "idempotency_key": "perm",
    "step": "confirm",
    "recipient": "x@example.com",
    "name": "Mine",
    "email": "y@example.com",
}


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(
    method: str, url: str, partner_a: Partner
) -> None:
    world = _world(partner_a)
    target = url.format(charity=world["charity"].slug, invite=world["invite"].pk)
    before = _state()
    answer = getattr(host_client(public_host()), method)(target, FORM)
    assert answer.status_code == 302
    assert answer["Location"].startswith("/portal/sign-in/?next=")
    assert _state() == before


@pytest.mark.parametrize(("method", "url"), [page for page in PAGES if page[0] == "post"])
def test_portal_give_forms_refuse_a_post_without_the_csrf_token(
    method: str, url: str, partner_a: Partner
) -> None:
    world = _world(partner_a)
    client = portal_client(world["invited"])
    client.handler.enforce_csrf_checks = True
    before = _state()
    answer = client.post(url.format(charity=world["charity"].slug, invite=world["invite"].pk), FORM)
    assert answer.status_code == 403
    assert _state() == before


def test_another_members_session_cannot_see_or_act_on_this_members_household(
    partner_a: Partner,
) -> None:
    # given a member's household with an invitation for someone else
    world = _world(partner_a)
    intruder = funded_member(partner_a, 100, "intruder")
    client = portal_client(intruder)
    before = _state()

    # when another member opens the household page, accepts the invitation, pools
    # or leaves, then they see nothing of it and nothing changes
    page = client.get("/portal/household/").content.decode()
    assert world["household"].name not in page
    assert world["owner"].member_number not in page
    assert world["invited"].email not in page
    accept = client.post(f"/portal/household/invites/{world['invite'].pk}/accept/")
    assert accept.status_code == 400
    assert "no longer valid" in accept.content.decode()
    assert client.post("/portal/household/leave/").status_code == 400
    assert client.post("/portal/household/invite/", {"email": intruder.email}).status_code == 400
    assert (
        client.post("/portal/household/pool/", {"points": "5", "idempotency_key": "i"}).status_code
        == 400
    )
    # the give page shows the intruder's own balance, not the owner's
    give = client.get("/portal/give/").content.decode()
    assert "You have 100 points." in give
    assert _state() == before
    assert Member.objects.filter(pk=world["owner"].pk).exists()
