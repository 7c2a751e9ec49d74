"""After a purchase commits, nothing may turn its success into a failure: the tier
upgrade that runs after the commit (when the check sent with the receipt found one
due) logs its own failure (the database gone, say) and the purchase is answered as
recorded; the next purchase catches the tier up."""

from __future__ import annotations

import logging
import uuid
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from coalition.ledger.selectors import balance
from coalition.members.services import member_enrol
from coalition.tiers import services as tier_services
from coalition.tiers.models import TierLevel
from coalition.tiers.selectors import tier_code_of
from tenants.earning import services as earning
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase
from tenants.purchases.services import Receipt, ReceiptLine, purchase_record
from tests.testkit import in_partner


def test_a_tier_upgrade_failing_after_the_commit_does_not_fail_the_purchase(
    db: None, partner_a: Partner, caplog: pytest.LogCaptureFixture
) -> None:
    # given: tier levels, a member, and 1 point per EUR at alpha
    TierLevel.objects.create(code="blue", name="Blue", rank=0, threshold_points=0)
    TierLevel.objects.create(code="silver", name="Silver", rank=1, threshold_points=100)
    member = member_enrol(email=f"tier-fault-{uuid.uuid4().hex[:10]}@example.com")
    now = timezone.now()
    with in_partner(partner_a):
        version = earning.ruleset_draft_create()
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=version, effective_from=now, now=now)
    line = ReceiptLine("TV", "tv", 1, 20_000)
    receipt = Receipt(f"T-{uuid.uuid4().hex}", member.pk, now, "EUR", (line,), 20_000)
    lost = OperationalError("server closed the connection unexpectedly")

    # when: the purchase is recorded, and the tier upgrade after its commit meets a
    # database that has gone away
    with in_partner(partner_a), \
            mock.patch.object(tier_services, "tier_evaluate", side_effect=lost):  # fmt: skip
        result = purchase_record(receipt, now=now)

    # then: the purchase is answered as recorded, its points are in the wallet
    assert result.points == 200
    assert balance(member.pk) == 200
    with in_partner(partner_a):
        assert Purchase.objects.filter(external_id=receipt.external_id).exists()
    # and: the failure was logged, and the tier waits for the next check
    assert any("tier upgrade of member" in r.getMessage() for r in caplog.records)
    assert caplog.records[-1].levelno == logging.ERROR
    assert tier_code_of(member.pk) is None
