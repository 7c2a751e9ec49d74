"""Transfers between members and household pooling: yearly caps per tier and the
default cap, the audit trail, both members active, the household size limit and
pooling only into one's own household."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.errors import InsufficientPoints, TransferToSelf
from coalition.ledger.models import Lot, Transaction
from coalition.ledger.verification import verify
from coalition.members.errors import MemberNotActive
from coalition.members.models import Member
from coalition.members.services import member_enrol, member_set_status
from coalition.tiers.models import MemberTier, TierLevel
from coalition.tiers.selectors import tier_code_of
from coalition.transfers import services as transfers
from coalition.transfers.models import TransferCap, TransferRecord
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner


def _member(prefix: str, partner: Partner, points: int = 0) -> Member:
    member = member_enrol(email=f"{prefix}-{uuid.uuid4().hex[:10]}@example.com")
    if points:
        ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points)
    return member


def _level(name: str) -> TierLevel:
    """A tier level of this test only (unique code and rank)."""
    suffix = uuid.uuid4().hex[:8]
    return TierLevel.objects.create(
        code=f"{name}-{suffix}",
        name=name.title(),
        rank=random.randint(10_000, 2_000_000_000),
        threshold_points=0,
    )


def _put_in_tier(member: Member, level: TierLevel) -> None:
    now = timezone.now()
    MemberTier.objects.create(
        member=member, level=level, achieved_at=now, review_at=now + timedelta(days=365)
    )
    assert tier_code_of(member.pk) == level.code


def _default_cap(kind: str, points: int) -> None:
    TransferCap.objects.update_or_create(
        kind=kind, tier_code="", defaults={"yearly_points": points}
    )


def _counts() -> tuple[int, int]:
    return Transaction.objects.count(), TransferRecord.objects.count()


def test_yearly_transfer_caps_per_tier_and_the_default(db: None, partner_a: Partner) -> None:
    # given: gold may send 1000 points a year, everyone else 250 (the default);
    # silver has no cap of its own, so the default applies to it
    gold, silver = _level("gold"), _level("silver")
    TransferCap.objects.create(kind="transfer", tier_code=gold.code, yearly_points=1000)
    _default_cap("transfer", 250)
    goldie = _member("goldie", partner_a, 5000)
    silvia = _member("silvia", partner_a, 5000)
    plain = _member("plain", partner_a, 5000)
    friend = _member("friend", partner_a)
    _put_in_tier(goldie, gold)
    _put_in_tier(silvia, silver)

    # when: each sends up to their cap, in several transfers
    transfers.points_transfer(from_member_id=goldie.pk, to_member_id=friend.pk, points=600)
    transfers.points_transfer(from_member_id=goldie.pk, to_member_id=friend.pk, points=400)
    transfers.points_transfer(from_member_id=silvia.pk, to_member_id=friend.pk, points=250)
    transfers.points_transfer(from_member_id=plain.pk, to_member_id=friend.pk, points=200)

    # then: one point more is refused for each, and changes nothing
    for sender, used in ((goldie, 1000), (silvia, 250), (plain, 200)):
        over = 1 if sender is not plain else 51
        before = _counts()
        with pytest.raises(transfers.TransferCapExceeded):
            transfers.points_transfer(from_member_id=sender.pk, to_member_id=friend.pk, points=over)
        assert _counts() == before
        assert transfers.sent_this_year(sender.pk, "transfer", timezone.now().year) == used
    # what is left under the cap still goes through
    transfers.points_transfer(from_member_id=plain.pk, to_member_id=friend.pk, points=50)
    assert ledger_selectors.balance(friend.pk) == 1000 + 250 + 250
    assert ledger_selectors.balance(goldie.pk) == 4000
    assert verify().ok


def test_without_any_cap_transfers_are_unlimited_and_household_caps_are_separate(
    db: None, partner_a: Partner
) -> None:
    # given: no transfer cap at all, and a household cap of 100 a year
    TransferCap.objects.filter(kind="transfer").delete()
    _default_cap("household", 100)
    head = _member("head", partner_a, 10)
    kid = _member("kid", partner_a, 5000)
    household = transfers.household_create(head_member_id=head.pk, name="Kid's")
    transfers.household_join(household_id=household.pk, member_id=kid.pk)
    assert transfers.yearly_cap("transfer", None) is None

    # when: the kid transfers 3000 and pools 100
    transfers.points_transfer(from_member_id=kid.pk, to_member_id=head.pk, points=3000)
    transfers.household_pool(member_id=kid.pk, points=100)

    # then: pooling one more is over the household cap, transfers are not
    with pytest.raises(transfers.TransferCapExceeded):
        transfers.household_pool(member_id=kid.pk, points=1)
    transfers.points_transfer(from_member_id=kid.pk, to_member_id=head.pk, points=1)
    assert ledger_selectors.balance(head.pk) == 10 + 3000 + 100 + 1


def test_every_transfer_and_pooling_leaves_an_audit_record(db: None, partner_a: Partner) -> None:
    # given: two members in a household, and a third outside it
    head = _member("audit-head", partner_a, 100)
    kid = _member("audit-kid", partner_a, 500)
    neighbour = _member("audit-neighbour", partner_a)
    household = transfers.household_create(head_member_id=head.pk, name="Audited")
    transfers.household_join(household_id=household.pk, member_id=kid.pk)

    # when: the kid transfers to the neighbour and pools into the household
    sent = transfers.points_transfer(from_member_id=kid.pk, to_member_id=neighbour.pk, points=70)
    pooled = transfers.household_pool(member_id=kid.pk, points=30)

    # then: one audit row each: kind, who, to whom, how much, when, ledger transaction
    year = timezone.now().year
    rows = TransferRecord.objects.filter(from_member=kid).order_by("id")
    assert [
        (row.kind, row.to_member_id, row.household_id, row.points, row.year) for row in rows
    ] == [
        ("transfer", neighbour.pk, None, 70, year),
        ("household", head.pk, household.pk, 30, year),
    ]
    for record in (sent, pooled):
        posted = Transaction.objects.get(pk=record.ledger_transaction_id)
        assert (posted.kind, posted.member_id, posted.points) == (
            "transfer",
            kid.pk,
            record.points,
        )
        assert posted.result["to_member"] == record.to_member_id
        assert record.created_at is not None
    # the recipient's new lots keep the issuer of the points they came from
    assert set(Lot.objects.filter(member_id=neighbour.pk).values_list("issuer_id", flat=True)) == {
        partner_a.pk
    }
    assert verify().ok


def test_a_repeated_transfer_request_posts_once(db: None, partner_a: Partner) -> None:
    # given: a transfer sent with an idempotency key
    sender = _member("repeat-sender", partner_a, 500)
    recipient = _member("repeat-recipient", partner_a)
    key = IdempotencyKey(f"member:{sender.pk}", "gift-1")
    first = transfers.points_transfer(
        from_member_id=sender.pk, to_member_id=recipient.pk, points=100, idempotency=key
    )
    # when: the same request comes again
    again = transfers.points_transfer(
        from_member_id=sender.pk, to_member_id=recipient.pk, points=100, idempotency=key
    )
    # then: the same record, one audit row, one posting
    assert again.pk == first.pk
    assert TransferRecord.objects.filter(from_member=sender).count() == 1
    assert ledger_selectors.balance(recipient.pk) == 100


def test_both_members_must_be_active(db: None, partner_a: Partner) -> None:
    # given: an active sender and a blocked recipient
    sender = _member("active-sender", partner_a, 500)
    blocked = _member("blocked", partner_a, 500)
    member_set_status(member_id=blocked.pk, status="blocked")
    before = _counts()

    # when / then: transferring either way is refused, nothing is recorded
    with pytest.raises(MemberNotActive):
        transfers.points_transfer(from_member_id=sender.pk, to_member_id=blocked.pk, points=10)
    with pytest.raises(MemberNotActive):
        transfers.points_transfer(from_member_id=blocked.pk, to_member_id=sender.pk, points=10)
    assert _counts() == before
    assert (ledger_selectors.balance(sender.pk), ledger_selectors.balance(blocked.pk)) == (500, 500)

    # and once unblocked, the transfer goes through
    member_set_status(member_id=blocked.pk, status="active")
    transfers.points_transfer(from_member_id=sender.pk, to_member_id=blocked.pk, points=10)
    assert ledger_selectors.balance(blocked.pk) == 510


def test_transfer_to_self_and_more_than_one_has_are_refused(db: None, partner_a: Partner) -> None:
    member = _member("self", partner_a, 100)
    other = _member("other", partner_a)
    before = _counts()
    with pytest.raises(TransferToSelf):
        transfers.points_transfer(from_member_id=member.pk, to_member_id=member.pk, points=10)
    with pytest.raises(InsufficientPoints):
        transfers.points_transfer(from_member_id=member.pk, to_member_id=other.pk, points=101)
    assert _counts() == before
    assert ledger_selectors.balance(member.pk) == 100


def test_household_size_is_limited(db: None, partner_a: Partner) -> None:
    # given: a household with its head and as many members as allowed
    head = _member("big-head", partner_a)
    household = transfers.household_create(head_member_id=head.pk, name="Big family")
    for index in range(transfers.MAX_HOUSEHOLD_MEMBERS - 1):
        transfers.household_join(
            household_id=household.pk, member_id=_member(f"kin{index}", partner_a).pk
        )
    assert household.memberships.count() == transfers.MAX_HOUSEHOLD_MEMBERS

    # when / then: one more is refused
    extra = _member("one-too-many", partner_a)
    with pytest.raises(transfers.HouseholdFull):
        transfers.household_join(household_id=household.pk, member_id=extra.pk)
    assert household.memberships.count() == transfers.MAX_HOUSEHOLD_MEMBERS
    # and a member belongs to one household only
    other = transfers.household_create(head_member_id=extra.pk, name="Other family")
    with pytest.raises(transfers.AlreadyInHousehold):
        transfers.household_join(household_id=other.pk, member_id=head.pk)
    with pytest.raises(transfers.AlreadyInHousehold):
        transfers.household_create(head_member_id=head.pk, name="Second")


def test_pooling_only_within_ones_own_household(db: None, partner_a: Partner) -> None:
    # given: two households, and a member in none
    head_x = _member("head-x", partner_a)
    kid_x = _member("kid-x", partner_a, 300)
    head_y = _member("head-y", partner_a)
    loner = _member("loner", partner_a, 300)
    household_x = transfers.household_create(head_member_id=head_x.pk, name="X")
    transfers.household_create(head_member_id=head_y.pk, name="Y")
    transfers.household_join(household_id=household_x.pk, member_id=kid_x.pk)
    before = _counts()

    # when / then: a member outside any household cannot pool; the head pools nowhere
    with pytest.raises(transfers.NotInHousehold):
        transfers.household_pool(member_id=loner.pk, points=10)
    with pytest.raises(transfers.HouseholdError):
        transfers.household_pool(member_id=head_x.pk, points=10)
    assert _counts() == before

    # and pooling moves points to one's own head only
    transfers.household_pool(member_id=kid_x.pk, points=120)
    assert ledger_selectors.balance(head_x.pk) == 120
    assert ledger_selectors.balance(head_y.pk) == 0
    assert ledger_selectors.balance(kid_x.pk) == 180
    assert verify().ok
