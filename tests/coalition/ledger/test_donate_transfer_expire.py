"""Donations reach the charity, transfers respect yearly caps, expiry sends one
reminder and moves expired points to breakage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from coalition.charity.services import charity_create, charity_statement, donation_make
from coalition.expiry import services as expiry
from coalition.expiry.models import ExpiryPolicy
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.verification import verify
from coalition.members.services import member_enrol
from coalition.transfers import services as transfers
from coalition.transfers.models import TransferCap
from tenants.partners.models import Partner


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_donate_transfer_pool_and_expire(db: None, partner_a: Partner) -> None:
    ann = member_enrol(email="ann.d@example.com")
    bob = member_enrol(email="bob.d@example.com")
    now = timezone.now()
    ledger.earn(member_id=ann.pk, partner_id=partner_a.pk, points=1000)
    ledger.earn(
        member_id=bob.pk, partner_id=partner_a.pk, points=300, expires_at=now + timedelta(days=10)
    )

    charity_create(slug="food-bank", name="Food Bank")
    donation_make(member_id=ann.pk, charity_slug="food-bank", points=100)
    statement = charity_statement(charity_slug="food-bank")
    assert (statement.total_points, statement.ledger_balance) == (100, 100)

    TransferCap.objects.create(kind="transfer", tier_code="", yearly_points=250)
    transfers.points_transfer(from_member_id=ann.pk, to_member_id=bob.pk, points=200)
    with pytest.raises(transfers.TransferCapExceeded):
        transfers.points_transfer(from_member_id=ann.pk, to_member_id=bob.pk, points=51)

    household = transfers.household_create(head_member_id=ann.pk, name="Ann's")
    transfers.household_join(household_id=household.pk, member_id=bob.pk)
    transfers.household_pool(member_id=bob.pk, points=50)
    assert ledger_selectors.balance(ann.pk) == 1000 - 100 - 200 + 50

    ExpiryPolicy.objects.create(mode="fixed", months=12, reminder_days=30)
    # Bob's dated lot, and the 50 points he pooled to Ann, which kept their expiry
    assert expiry.reminders_send(now=now) == 2
    assert expiry.reminders_send(now=now) == 0
    assert sorted(message.to[0] for message in mail.outbox) == [ann.email, bob.email]
    expired = expiry.points_expire(now=now + timedelta(days=11))
    assert expired > 0
    assert expiry.points_expire(now=now + timedelta(days=11)) == 0
    assert verify().ok
