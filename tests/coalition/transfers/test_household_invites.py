"""Households run by their members: the head invites an e-mail address (the head
learns nothing about whether it is enrolled), the invited member accepts once before
it expires, members leave and the head leaves last, ending the household. Also the
recipient of a transfer named by number or e-mail, and the allowance left this year."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail

from coalition.ledger import services as ledger
from coalition.ledger.errors import TransferToSelf
from coalition.members.models import Member, MemberStatus
from coalition.members.services import member_enrol, member_erase
from coalition.transfers import services as transfers
from coalition.transfers.errors import (
    HeadCannotLeave,
    HouseholdInviteInvalid,
    NotHouseholdHead,
    RecipientLookupsThrottled,
    UnknownRecipient,
)
from coalition.transfers.models import (
    Household,
    HouseholdInvite,
    HouseholdMembership,
    TransferCap,
    TransferKind,
    TransferRecord,
)
from coalition.transfers.selectors import (
    household_invites_for,
    member_household,
    transfer_allowance,
)
from loyalty_kernel import clock
from tenants.partners.models import Partner

pytestmark = pytest.mark.django_db

URL = "https://example.com/portal/household/"


def _member(prefix: str) -> Member:
    return member_enrol(email=f"{prefix}-{uuid.uuid4().hex[:10]}@example.com")


def _state() -> Any:
    return (
        sorted(HouseholdMembership.objects.values_list("household_id", "member_id")),
        sorted(HouseholdInvite.objects.values_list("pk", "accepted_at")),
        sorted(Household.objects.values_list("pk", "head_id")),
    )


def test_the_head_invites_by_email_and_the_invited_member_accepts_once(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given a household and a member to invite
    head, guest = _member("head"), _member("guest")
    household = transfers.household_create(head_member_id=head.pk, name="The Garcias")

    # when the head invites the guest's address
    with django_capture_on_commit_callbacks(execute=True):
        invite = transfers.household_invite(member_id=head.pk, email=guest.email, invite_url=URL)

    # then an invitation is e-mailed and waits for the guest only
    assert mail.outbox[-1].to == [guest.email]
    assert URL in mail.outbox[-1].body
    assert household_invites_for(member=guest) == [invite]
    assert household_invites_for(member=head) == []
    assert [i.email for i in member_household(member_id=head.pk).pending_invites] == [guest.email]

    # when the guest accepts, then they are in; a second accept is refused
    transfers.household_invite_accept(member_id=guest.pk, invite_id=invite.pk)
    mine = member_household(member_id=guest.pk)
    assert mine is not None
    assert mine.household == household
    assert not mine.is_head
    assert [(m.is_head, m.is_you) for m in mine.mates] == [(True, False), (False, True)]
    assert household_invites_for(member=guest) == []
    before = _state()
    with pytest.raises(HouseholdInviteInvalid):
        transfers.household_invite_accept(member_id=guest.pk, invite_id=invite.pk)
    assert _state() == before


def test_an_invitation_to_an_address_nobody_enrolled_is_sent_all_the_same(
    django_capture_on_commit_callbacks: Any,
) -> None:
    head = _member("head")
    transfers.household_create(head_member_id=head.pk, name="Home")
    stranger = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        transfers.household_invite(member_id=head.pk, email=stranger, invite_url=URL)
    assert mail.outbox[-1].to == [stranger]
    assert "Join with this address first" in mail.outbox[-1].body


def test_only_the_invited_address_may_accept_and_not_after_expiry() -> None:
    head, guest, other = _member("head"), _member("guest"), _member("other")
    transfers.household_create(head_member_id=head.pk, name="Home")
    invite = transfers.household_invite(member_id=head.pk, email=guest.email, invite_url=URL)
    before = _state()
    with pytest.raises(HouseholdInviteInvalid):
        transfers.household_invite_accept(member_id=other.pk, invite_id=invite.pk)
    later = clock.now() + timedelta(days=transfers.HOUSEHOLD_INVITE_DAYS, seconds=1)
    with pytest.raises(HouseholdInviteInvalid):
        transfers.household_invite_accept(member_id=guest.pk, invite_id=invite.pk, now=later)
    assert household_invites_for(member=guest, now=later) == []
    assert _state() == before


def test_only_the_head_invites() -> None:
    head, mate = _member("head"), _member("mate")
    household = transfers.household_create(head_member_id=head.pk, name="Home")
    transfers.household_join(household_id=household.pk, member_id=mate.pk)
    before = _state()
    with pytest.raises(NotHouseholdHead):
        transfers.household_invite(member_id=mate.pk, email="x@example.com", invite_url=URL)
    assert _state() == before


def test_members_leave_and_the_head_leaves_last_ending_the_household(partner_a: Partner) -> None:
    # given a household where the mate pooled points
    TransferCap.objects.filter(kind=TransferKind.HOUSEHOLD).delete()
    head, mate = _member("head"), _member("mate")
    ledger.earn(member_id=mate.pk, partner_id=partner_a.pk, points=50)
    household = transfers.household_create(head_member_id=head.pk, name="Home")
    transfers.household_join(household_id=household.pk, member_id=mate.pk)
    transfers.household_pool(member_id=mate.pk, points=20)

    # then the head cannot leave first
    before = _state()
    with pytest.raises(HeadCannotLeave):
        transfers.household_leave(member_id=head.pk)
    assert _state() == before

    # when the mate leaves, then the head can, and may start another household
    transfers.household_leave(member_id=mate.pk)
    transfers.household_leave(member_id=head.pk)
    assert member_household(member_id=head.pk) is None
    household.refresh_from_db()
    assert household.head_id is None  # kept for its pooling record, ended
    transfers.household_create(head_member_id=head.pk, name="Second home")


def test_a_recipient_is_named_by_number_or_email_and_unknown_ones_look_alike() -> None:
    sender, friend = _member("sender"), _member("friend")
    assert transfers.transfer_recipient(sender_id=sender.pk, query=friend.member_number) == friend
    assert transfers.transfer_recipient(sender_id=sender.pk, query=friend.email.upper()) == friend
    blocked = _member("blocked")
    Member.objects.filter(pk=blocked.pk).update(status=MemberStatus.BLOCKED)
    messages = set()
    for query in ("nobody@example.com", blocked.email, "0000000000", "nonsense"):
        with pytest.raises(UnknownRecipient) as refused:
            transfers.transfer_recipient(sender_id=sender.pk, query=query)
        messages.add(refused.value.message)
    assert len(messages) == 1
    with pytest.raises(TransferToSelf):
        transfers.transfer_recipient(sender_id=sender.pk, query=sender.email)


def test_a_sender_naming_too_many_unknown_recipients_is_stopped_for_the_hour(
    settings: Any,
) -> None:
    # given a limit of 3 recipients an hour that cannot receive points
    settings.LOYALTY_TRANSFER_RECIPIENT_MISSES_PER_HOUR = 3
    sender, other_sender, friend = _member("prober"), _member("honest"), _member("friend")
    # when the sender tries three addresses nobody can receive points at
    for n in range(3):
        with pytest.raises(UnknownRecipient):
            transfers.transfer_recipient(sender_id=sender.pk, query=f"guess{n}@example.com")
    # then every further look-up is refused, a real member's address too, so a
    # prober learns nothing more this hour
    for query in (friend.email, "guess9@example.com"):
        with pytest.raises(RecipientLookupsThrottled) as refused:
            transfers.transfer_recipient(sender_id=sender.pk, query=query)
        assert refused.value.field == "recipient"
    # and another member is not affected
    assert transfers.transfer_recipient(sender_id=other_sender.pk, query=friend.email) == friend


def test_found_recipients_do_not_count_towards_the_look_up_limit(settings: Any) -> None:
    settings.LOYALTY_TRANSFER_RECIPIENT_MISSES_PER_HOUR = 2
    sender, friend = _member("regular"), _member("friend")
    for _ in range(5):
        assert (
            transfers.transfer_recipient(sender_id=sender.pk, query=friend.member_number) == friend
        )


def test_the_allowance_is_the_cap_less_what_was_sent_this_year(partner_a: Partner) -> None:
    TransferCap.objects.update_or_create(
        kind=TransferKind.TRANSFER, tier_code="", defaults={"yearly_points": 300}
    )
    sender, friend = _member("sender"), _member("friend")
    ledger.earn(member_id=sender.pk, partner_id=partner_a.pk, points=500)
    transfers.points_transfer(from_member_id=sender.pk, to_member_id=friend.pk, points=120)
    allowance = transfer_allowance(member_id=sender.pk, kind=TransferKind.TRANSFER)
    assert (allowance.cap, allowance.used, allowance.left) == (300, 120, 180)
    TransferCap.objects.filter(kind=TransferKind.TRANSFER).delete()
    assert transfer_allowance(member_id=sender.pk, kind=TransferKind.TRANSFER).left is None


def test_an_erased_member_leaves_their_household_and_their_invitations_go() -> None:
    # given a household of a head and two members, and an invitation waiting for a
    # fourth person's address
    head, first, second, invited = (_member(p) for p in ("head", "first", "second", "invited"))
    household = transfers.household_create(head_member_id=head.pk, name="Home")
    transfers.household_join(household_id=household.pk, member_id=first.pk)
    transfers.household_join(household_id=household.pk, member_id=second.pk)
    transfers.household_invite(member_id=head.pk, email=invited.email, invite_url=URL)

    # when a member who is not the head is erased, they are no longer in it
    member_erase(member_id=second.pk)
    assert not HouseholdMembership.objects.filter(member_id=second.pk).exists()
    assert Household.objects.get(pk=household.pk).head_id == head.pk

    # when the invited person is erased, the invitation to their address is gone
    member_erase(member_id=invited.pk)
    assert not HouseholdInvite.objects.filter(household=household).exists()

    # when the head is erased, the member who joined first after them becomes head
    member_erase(member_id=head.pk)
    assert Household.objects.get(pk=household.pk).head_id == first.pk
    assert list(
        HouseholdMembership.objects.filter(household=household).values_list("member_id", flat=True)
    ) == [first.pk]
    # and the new head can run it: leave last, which ends it
    transfers.household_leave(member_id=first.pk)
    assert not Household.objects.filter(pk=household.pk).exists()


def test_an_erased_head_alone_ends_the_household_and_keeps_pooling_records(
    partner_a: Partner,
) -> None:
    # given a household whose member pooled points to the head, then left
    TransferCap.objects.filter(kind=TransferKind.HOUSEHOLD).delete()
    head, member = _member("head"), _member("pooler")
    household = transfers.household_create(head_member_id=head.pk, name="Home")
    transfers.household_join(household_id=household.pk, member_id=member.pk)
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=50)
    transfers.household_pool(member_id=member.pk, points=20)
    transfers.household_leave(member_id=member.pk)

    # when the head, now alone, is erased
    member_erase(member_id=head.pk)

    # then the household has ended with nobody in it, its pooling record kept
    ended = Household.objects.get(pk=household.pk)
    assert ended.head_id is None
    assert not ended.memberships.exists()
    assert (
        TransferRecord.objects.filter(household=household, kind=TransferKind.HOUSEHOLD).count() == 1
    )
