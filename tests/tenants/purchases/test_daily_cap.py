"""The daily cap through a purchase: the member's rule points of the partner's
local day count against it. The purchase reads them only when the version in
force has a daily cap (``pricing.daily_cap_in_force_sql``), since otherwise every
purchase summed one more row for each earlier purchase of the member's day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tenants.partners.models import Partner
from tenants.purchases.services import ReceiptLine, purchase_record
from tests.testkit import in_partner
from tests.testkit.earning import new_member, publish, receipt

SIXTY_EUROS = ReceiptLine("A", "food", 1, 6000)


def _local_day_start(partner: Partner, days_ago: int) -> datetime:
    zone = ZoneInfo(partner.time_zone or "UTC")
    day = (timezone.now().astimezone(zone) - timedelta(days=days_ago)).date()
    return datetime(day.year, day.month, day.day, tzinfo=zone)


@pytest.mark.parametrize("capped", [True, False])
def test_the_daily_cap_counts_the_members_points_of_the_local_day(
    db: None, partner_a: Partner, capped: bool
) -> None:
    # given: 1 point per euro, capped at 100 a day or not capped
    now = timezone.now()
    rules = [("base_rate", {"rates": {"EUR": "1"}})]
    if capped:
        rules.append(("daily_cap", {"points": 100}))
    member = new_member()
    day = _local_day_start(partner_a, days_ago=2)
    with in_partner(partner_a):
        published = day - timedelta(days=1)  # versions take effect from their publication
        publish(rules, effective_from=published, now=published)
        # when: three purchases of 60 EUR on one local day, one the next day
        points = [
            purchase_record(
                receipt(member.pk, day + timedelta(hours=h), SIXTY_EUROS), now=now
            ).points
            for h in (9, 12, 20)
        ]
        next_day = purchase_record(
            receipt(member.pk, day + timedelta(days=1, hours=9), SIXTY_EUROS), now=now
        ).points
    # then: capped, the day gives 100 in all and the next day starts afresh
    assert points == ([60, 40, 0] if capped else [60, 60, 60])
    assert next_day == 60
