"""A purchase earns with the rules in force, a campaign adds points within its
budget, a partial return reverses its share, and the member's tier moves up."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.verification import verify
from coalition.members.services import member_enrol
from coalition.tiers.models import TierLevel
from coalition.tiers.services import tier_status
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.purchases.services import (
    Receipt,
    ReceiptLine,
    purchase_preview,
    purchase_record,
    purchase_return,
)
from tests.testkit import in_partner


def test_purchase_earns_campaign_adds_return_reverses_tier_upgrades(
    db: None, partner_a: Partner
) -> None:
    now = timezone.now()
    TierLevel.objects.create(code="blue", name="Blue", rank=0, threshold_points=0)
    TierLevel.objects.create(code="gold", name="Gold", rank=1, threshold_points=100)
    member = member_enrol(email="shopper@example.com")
    with in_partner(partner_a):
        version = earning.ruleset_draft_create(description="launch")
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.rule_add(
            version=version, kind="exclude_categories", params={"categories": ["gift_cards"]}
        )
        earning.ruleset_publish(version=version, effective_from=now - timedelta(seconds=0), now=now)
        earning.campaign_create(
            name="double weekend",
            kind="multiplier",
            params={"multiplier": "2"},
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            budget_points=50,
        )
        receipt = Receipt(
            external_id="R-1",
            member_id=member.pk,
            occurred_at=now,
            currency="EUR",
            lines=(
                ReceiptLine("APPLE", "fresh", 10, 1000),  # 100 EUR
                ReceiptLine("GIFT", "gift_cards", 1, 5000),  # excluded
            ),
            total=15000,
        )
        preview = purchase_preview(receipt, now=now)
        assert preview.rule_points == 100
        assert preview.campaign_points
        result = purchase_record(
            receipt, idempotency=IdempotencyKey("partner:alpha", "R-1"), now=now
        )
        # 100 rule points + the campaign's 100 extra clipped to its 50-point budget
        assert (result.rule_points, result.campaign_points, result.points) == (100, 50, 150)
        again = purchase_record(
            receipt, idempotency=IdempotencyKey("partner:alpha", "R-1"), now=now
        )
        assert again == result
        assert again.replayed
        assert ledger_selectors.balance(member.pk) == 150
        assert tier_status(member.pk).code == "gold"

        returned = purchase_return(external_id="R-1", lines={1: 5})  # half the apples
        assert returned.points_reversed == 75
        returned_gift = purchase_return(external_id="R-1", lines={2: 1})  # gift card: no points
        assert returned_gift.points_requested == 0
        final = purchase_return(external_id="R-1", lines={1: 5})
        assert final.points_reversed == 75
    assert ledger_selectors.balance(member.pk) == 0
    report = verify()
    assert report.ok, report.problems
