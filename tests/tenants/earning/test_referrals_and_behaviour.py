"""Behavioural earning: referrals with their fraud checks (every refusal recorded
with its reason, nothing posted), and awards limited per period, birthdays only
on the birthday."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.members.errors import MemberNotActive
from coalition.members.models import Member
from coalition.members.services import member_set_status
from tenants.earning import services as earning
from tenants.earning.models import (
    BehaviourAward,
    BehaviourRule,
    Referral,
    ReferralStatus,
)
from tenants.partners.models import Partner
from tests.testkit import in_partner
from tests.testkit.earning import earned_by, max_transaction_id, new_member

REFERRER_POINTS, REFEREE_POINTS, REFERRER_CAP = 100, 50, 2


def _referral_rule() -> BehaviourRule:
    return BehaviourRule.objects.create(
        event="referral",
        points=REFERRER_POINTS,
        referee_points=REFEREE_POINTS,
        max_awards=REFERRER_CAP,
    )


def _refer(referrer: Member, referee: Member) -> earning.ReferralResult:
    result = earning.referral_record(referrer_id=referrer.pk, referee_id=referee.pk)
    assert result.accepted, result.reason
    return result


# --- referrals ------------------------------------------------------------------------


def test_accepted_referral_awards_both(db: None, partner_a: Partner) -> None:
    # given a referral rule (100 to the referrer, 50 to the new member)
    referrer, referee = new_member("ref"), new_member("new")
    with in_partner(partner_a):
        _referral_rule()
        # when a member refers a new member
        result = earning.referral_record(referrer_id=referrer.pk, referee_id=referee.pk)
        referral = Referral.objects.get(pk=result.referral_id)
    # then it is accepted and both are credited, issued by the partner
    assert (result.accepted, result.reason) == (True, "")
    assert (result.referrer_points, result.referee_points) == (100, 50)
    assert (referral.status, referral.referrer_id, referral.referee_id) == (
        ReferralStatus.ACCEPTED,
        referrer.pk,
        referee.pk,
    )
    assert ledger_selectors.balance(referrer.pk) == 100
    assert ledger_selectors.balance(referee.pk) == 50
    assert earned_by(referrer.pk, partner_a.pk) == 100
    assert earned_by(referee.pk, partner_a.pk) == 50


def _same_member() -> tuple[Member, Member]:
    member = new_member()
    return member, member


def _same_gmail_mailbox() -> tuple[Member, Member]:
    tag = uuid.uuid4().hex[:10]
    referrer = new_member(email=f"{tag[:4]}.{tag[4:]}+x@gmail.com")
    return referrer, new_member(email=f"{tag}@gmail.com")


def _same_mailbox_googlemail() -> tuple[Member, Member]:
    tag = uuid.uuid4().hex[:10]
    referrer = new_member(email=f"{tag}+friends@googlemail.com")
    return referrer, new_member(email=f"{tag[:2]}.{tag[2:].upper()}@GMail.com")


def _same_mailbox_plus_tag() -> tuple[Member, Member]:
    tag = uuid.uuid4().hex[:10]
    return new_member(email=f"{tag}+a@example.com"), new_member(email=f"{tag}+b@example.com")


def _already_referred() -> tuple[Member, Member]:
    first, second, newcomer = new_member(), new_member(), new_member()
    _refer(first, newcomer)
    return second, newcomer


def _ring() -> tuple[Member, Member]:
    a, b, c = new_member("a"), new_member("b"), new_member("c")
    _refer(a, b)
    _refer(b, c)
    return c, a  # C tries to refer A, who is up C's own referral chain


def _cap_reached() -> tuple[Member, Member]:
    referrer = new_member()
    for _ in range(REFERRER_CAP):
        _refer(referrer, new_member())
    return referrer, new_member()


REFUSALS: dict[str, tuple[Callable[[], tuple[Member, Member]], str]] = {
    "self-referral": (_same_member, "self_referral"),
    "same-gmail-mailbox-dots-and-plus": (_same_gmail_mailbox, "self_referral"),
    "same-gmail-mailbox-googlemail": (_same_mailbox_googlemail, "self_referral"),
    "same-mailbox-plus-tags": (_same_mailbox_plus_tag, "self_referral"),
    "referee-already-referred": (_already_referred, "already_referred"),
    "referral-ring": (_ring, "referral_ring"),
    "referrer-cap-reached": (_cap_reached, "referrer_cap_reached"),
}


@pytest.mark.parametrize(("arrange", "reason"), list(REFUSALS.values()), ids=list(REFUSALS))
def test_fraudulent_referral_is_refused_recorded_and_posts_nothing(
    db: None,
    partner_a: Partner,
    arrange: Callable[[], tuple[Member, Member]],
    reason: str,
) -> None:
    # given a referral rule and the situation of the case
    with in_partner(partner_a):
        _referral_rule()
        referrer, referee = arrange()
        balances = (ledger_selectors.balance(referrer.pk), ledger_selectors.balance(referee.pk))
        last_tx = max_transaction_id()
        # when the referral is attempted
        result = earning.referral_record(referrer_id=referrer.pk, referee_id=referee.pk)
        referral = Referral.objects.get(pk=result.referral_id)
    # then it is refused with its reason, recorded as such, and nothing is posted
    assert (result.accepted, result.reason) == (False, reason)
    assert (result.referrer_points, result.referee_points) == (0, 0)
    assert (referral.status, referral.reason) == (ReferralStatus.REFUSED, reason)
    assert (referral.referrer_id, referral.referee_id) == (referrer.pk, referee.pk)
    assert max_transaction_id() == last_tx
    assert (
        ledger_selectors.balance(referrer.pk),
        ledger_selectors.balance(referee.pk),
    ) == balances


def test_different_mailboxes_are_not_self_referrals(db: None, partner_a: Partner) -> None:
    # given two addresses that differ in more than dots and tags (not gmail: dots count)
    tag = uuid.uuid4().hex[:10]
    referrer = new_member(email=f"{tag[:4]}.{tag[4:]}@example.com")
    referee = new_member(email=f"{tag}@example.com")
    with in_partner(partner_a):
        _referral_rule()
        # when one refers the other, then it is accepted
        result = earning.referral_record(referrer_id=referrer.pk, referee_id=referee.pk)
    assert result.accepted, result.reason


def test_referral_without_a_rule_or_with_a_blocked_member_is_refused(
    db: None, partner_a: Partner
) -> None:
    # given no referral rule
    referrer, referee = new_member(), new_member()
    with in_partner(partner_a):
        referrals = Referral.objects.count()
        # when a referral is recorded, then BehaviourNotConfigured
        with pytest.raises(earning.BehaviourNotConfigured):
            earning.referral_record(referrer_id=referrer.pk, referee_id=referee.pk)
        # given the rule and a blocked referrer, then MemberNotActive
        _referral_rule()
        member_set_status(member_id=referrer.pk, status="blocked")
        with pytest.raises(MemberNotActive):
            earning.referral_record(referrer_id=referrer.pk, referee_id=referee.pk)
        assert Referral.objects.count() == referrals
    assert ledger_selectors.balance(referee.pk) == 0


# --- behavioural awards -------------------------------------------------------------


def test_award_at_most_max_awards_per_year(db: None, partner_a: Partner) -> None:
    # given 20 points per product review, at most twice a calendar year
    member = new_member()
    in_2025 = datetime(2025, 3, 1, 12, tzinfo=UTC)
    with in_partner(partner_a):
        BehaviourRule.objects.create(event="review", points=20, max_awards=2, period="year")
        # when the member writes three reviews in 2025
        first = earning.behaviour_award(
            member_id=member.pk, event="review", reference="r1", now=in_2025
        )
        second = earning.behaviour_award(
            member_id=member.pk, event="review", reference="r2", now=in_2025
        )
        last_tx = max_transaction_id()
        # then the first two earn 20 each and the third is refused, posting nothing
        with pytest.raises(earning.AwardLimitReached):
            earning.behaviour_award(
                member_id=member.pk, event="review", reference="r3", now=in_2025
            )
        assert max_transaction_id() == last_tx
        assert (first.points, second.points) == (20, 20)
        assert ledger_selectors.balance(member.pk) == 40
        # and in the next year the member can earn again
        earning.behaviour_award(
            member_id=member.pk, event="review", now=datetime(2026, 1, 2, tzinfo=UTC)
        )
        awards = list(
            BehaviourAward.objects.filter(member_id=member.pk)
            .order_by("id")
            .values_list("period_key", "sequence", "reference")
        )
    assert awards == [("2025", 1, "r1"), ("2025", 2, "r2"), ("2026", 1, "")]
    assert ledger_selectors.balance(member.pk) == 60
    assert earned_by(member.pk, partner_a.pk) == 60


def test_lifetime_award_only_once(db: None, partner_a: Partner) -> None:
    # given a one-off sign-up bonus
    member = new_member()
    with in_partner(partner_a):
        BehaviourRule.objects.create(event="signup", points=200)
        earning.behaviour_award(member_id=member.pk, event="signup")
        # when it is claimed again, even years later, then it is refused
        for later in (timezone.now(), datetime(2031, 1, 1, tzinfo=UTC)):
            with pytest.raises(earning.AwardLimitReached):
                earning.behaviour_award(member_id=member.pk, event="signup", now=later)
    assert ledger_selectors.balance(member.pk) == 200


@pytest.mark.parametrize(
    ("event", "configured"),
    [
        pytest.param("newsletter", None, id="no-rule-for-the-event"),
        pytest.param("newsletter", False, id="inactive-rule"),
        pytest.param("dancing", None, id="unknown-event"),
    ],
)
def test_award_for_an_unconfigured_behaviour_is_refused(
    db: None, partner_a: Partner, event: str, configured: bool | None
) -> None:
    # given no (active) rule for the event
    member = new_member()
    with in_partner(partner_a):
        if configured is not None:
            BehaviourRule.objects.create(event=event, points=10, is_active=configured)
        last_tx = max_transaction_id()
        # when it is awarded, then BehaviourNotConfigured and nothing is posted
        with pytest.raises(earning.BehaviourNotConfigured):
            earning.behaviour_award(member_id=member.pk, event=event)
        assert not BehaviourAward.objects.filter(member_id=member.pk).exists()
    assert max_transaction_id() == last_tx


def test_birthday_points_only_on_the_birth_date(db: None, partner_a: Partner) -> None:
    # given a member born on 15 June and a yearly birthday bonus
    member = new_member()
    Member.objects.filter(pk=member.pk).update(birth_date=date(1990, 6, 15))
    with in_partner(partner_a):
        BehaviourRule.objects.create(event="birthday", points=150, period="year")
        # when it is claimed the day before or the day after, then it is refused
        for day in (datetime(2025, 6, 14, 23, 59, tzinfo=UTC), datetime(2025, 6, 16, tzinfo=UTC)):
            with pytest.raises(earning.NotBirthday):
                earning.behaviour_award(member_id=member.pk, event="birthday", now=day)
        assert ledger_selectors.balance(member.pk) == 0
        # when claimed on the birthday, then it is awarded, once that year
        on_the_day = datetime(2025, 6, 15, 18, tzinfo=UTC)
        result = earning.behaviour_award(member_id=member.pk, event="birthday", now=on_the_day)
        with pytest.raises(earning.AwardLimitReached):
            earning.behaviour_award(member_id=member.pk, event="birthday", now=on_the_day)
        # and again on next year's birthday
        earning.behaviour_award(
            member_id=member.pk, event="birthday", now=datetime(2026, 6, 15, tzinfo=UTC)
        )
    assert result.points == 150
    assert ledger_selectors.balance(member.pk) == 300


def test_birthday_without_a_birth_date_is_refused(db: None, partner_a: Partner) -> None:
    # given a member who did not give a birth date
    member = new_member()
    with in_partner(partner_a):
        BehaviourRule.objects.create(event="birthday", points=150, period="year")
        # when birthday points are claimed, then NotBirthday
        with pytest.raises(earning.NotBirthday):
            earning.behaviour_award(member_id=member.pk, event="birthday")
    assert ledger_selectors.balance(member.pk) == 0
