"""The purchase's snapshot parses the campaigns running and the expiry policy once
per distinct value it reads (they are read in its statement every time): a
campaign started, paused or resumed, or a new expiry policy, is what the very
next purchase is priced and posted with."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coalition.expiry.services import expiry_policy_set
from coalition.ledger.models import Lot
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase
from tenants.purchases.services import PurchaseResult, purchase_record
from tests.testkit import in_partner
from tests.testkit.earning import new_member, publish, receipt

pytestmark = pytest.mark.django_db


def _purchase(now) -> PurchaseResult:  # type: ignore[no-untyped-def]
    return purchase_record(receipt(new_member().pk, now), now=now)


def _lot_months(result: PurchaseResult) -> float:
    purchase = Purchase.objects.get(pk=result.purchase_id)
    lot = Lot.objects.get(transaction_id=purchase.ledger_transaction_id)
    assert lot.expires_at is not None
    return (lot.expires_at - lot.earned_at).days / 30.4


def test_campaign_changes_count_from_the_next_purchase(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        # given a purchase priced with no campaign running
        assert _purchase(now).campaign_points == 0
        # when a bonus campaign starts, the next purchase gets its bonus
        campaign = earning.campaign_create(
            name="Bonus", kind="bonus", params={"points": 50},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=7),
        )  # fmt: skip
        assert _purchase(now).campaign_points == 50
        # and a second campaign adds to it at once
        earning.campaign_create(
            name="More", kind="bonus", params={"points": 7},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=7),
        )  # fmt: skip
        assert _purchase(now).campaign_points == 57
        # and when the first is paused, and resumed, so does the next purchase
        earning.campaign_pause(campaign_id=campaign.pk, now=now)
        assert _purchase(now).campaign_points == 7
        earning.campaign_resume(campaign_id=campaign.pk, now=now)
        assert _purchase(now).campaign_points == 57


def test_a_new_expiry_policy_dates_the_next_purchases_lot(partner_a: Partner) -> None:
    now = timezone.now()
    policy = {"mode": "fixed", "inactivity_months": 24, "reminder_days": 30,
              "inactivity_only_countries": [], "actor": None}  # fmt: skip
    expiry_policy_set(months=24, **policy)
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        # given a purchase whose lot expires under a 24-month policy
        assert round(_lot_months(_purchase(now))) == 24
        # when the policy changes to 6 months, the next purchase's lot follows it
        expiry_policy_set(months=6, **policy)
        assert round(_lot_months(_purchase(now))) == 6
