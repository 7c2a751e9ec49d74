"""Donations reach the charity's account: the charity's statement adds up to the
ledger balance of that account; donating to an unknown or inactive charity, or
donating nothing, is a typed error that changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from coalition.charity.models import Charity, Donation
from coalition.charity.services import (
    CharityNotActive,
    UnknownCharity,
    charity_create,
    charity_statement,
    donation_make,
)
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.errors import AmountNotPositive, InsufficientPoints
from coalition.ledger.models import Transaction
from coalition.ledger.verification import verify
from coalition.members.models import Member
from coalition.members.services import member_enrol
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner


def _member(prefix: str, partner: Partner, points: int) -> Member:
    member = member_enrol(email=f"{prefix}-{uuid.uuid4().hex[:10]}@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points)
    return member


def _charity(name: str) -> Charity:
    return charity_create(slug=f"{name}-{uuid.uuid4().hex[:8]}", name=name.title())


def _counts() -> tuple[int, int]:
    return Transaction.objects.count(), Donation.objects.count()


def test_donations_reach_the_charity_account_and_its_statement_adds_up(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: two members, one with lots from both partners, and two charities
    ann = _member("donor-ann", partner_a, 500)
    soon = ledger.earn(
        member_id=ann.pk,
        partner_id=partner_b.pk,
        points=40,
        expires_at=timezone.now() + timedelta(days=3),
    )
    bob = _member("donor-bob", partner_b, 300)
    food_bank, shelter = _charity("food-bank"), _charity("shelter")

    # when: they donate (one donation repeated with its idempotency key)
    key = IdempotencyKey(f"member:{ann.pk}", "donation-1")
    first = donation_make(
        member_id=ann.pk, charity_slug=food_bank.slug, points=100, idempotency=key
    )
    repeated = donation_make(
        member_id=ann.pk, charity_slug=food_bank.slug, points=100, idempotency=key
    )
    donation_make(member_id=bob.pk, charity_slug=food_bank.slug, points=250)
    donation_make(member_id=ann.pk, charity_slug=shelter.slug, points=60)

    # then: each charity's statement total equals its ledger account's balance
    assert repeated.pk == first.pk
    statement = charity_statement(charity_slug=food_bank.slug)
    assert (statement.total_points, statement.ledger_balance) == (350, 350)
    assert sum(line.donations for line in statement.lines) == 2
    assert ledger_selectors.account_balance(food_bank.account_id) == 350
    other = charity_statement(charity_slug=shelter.slug)
    assert (other.total_points, other.ledger_balance) == (60, 60)
    # the members paid exactly that
    assert ledger_selectors.balance(ann.pk) == 540 - 160
    assert ledger_selectors.balance(bob.pk) == 50
    # Ann's first donation took her soonest-expiring lot (B's) first
    posted = Transaction.objects.get(pk=first.ledger_transaction_id)
    assert posted.kind == "donation"
    assert posted.result["consumed"][0] == {
        "lot": soon.result["lot"],
        "points": 40,
        "issuer": partner_b.pk,
    }
    assert {item["issuer"] for item in posted.result["consumed"]} == {partner_a.pk, partner_b.pk}
    report = verify()
    assert report.ok, report.problems


def test_donating_to_an_unknown_or_inactive_charity_is_refused(
    db: None, partner_a: Partner
) -> None:
    # given: a member with points, and a charity that stopped accepting donations
    member = _member("donor", partner_a, 500)
    closed = _charity("closed")
    Charity.objects.filter(pk=closed.pk).update(is_active=False)
    before = _counts()

    # when / then: typed refusals, and nothing changes
    with pytest.raises(UnknownCharity):
        donation_make(member_id=member.pk, charity_slug="no-such-charity", points=10)
    with pytest.raises(CharityNotActive):
        donation_make(member_id=member.pk, charity_slug=closed.slug, points=10)
    with pytest.raises(UnknownCharity):
        charity_statement(charity_slug="no-such-charity")
    assert _counts() == before
    assert ledger_selectors.balance(member.pk) == 500
    assert ledger_selectors.account_balance(closed.account_id) == 0


def test_donating_nothing_or_more_than_one_has_is_refused(db: None, partner_a: Partner) -> None:
    member = _member("donor-small", partner_a, 50)
    charity = _charity("clinic")
    before = _counts()
    for points in (0, -5):
        with pytest.raises(AmountNotPositive):
            donation_make(member_id=member.pk, charity_slug=charity.slug, points=points)
    with pytest.raises(InsufficientPoints):
        donation_make(member_id=member.pk, charity_slug=charity.slug, points=51)
    assert _counts() == before
    statement = charity_statement(charity_slug=charity.slug)
    assert (statement.total_points, statement.ledger_balance) == (0, 0)
    assert ledger_selectors.balance(member.pk) == 50
