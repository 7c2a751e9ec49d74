"""The upgrade check after a purchase parses the tier levels once per distinct
value of the levels it reads (they are read in its statement every time): an
operator's change to the levels (a threshold, a new level, a removed one) is
what the very next check decides with."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import connection

from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.tiers.models import MemberTier, TierChange, TierLevel
from coalition.tiers.selectors import tier_code_of
from coalition.tiers.services import tier_upgrade_if_due
from tenants.partners.models import Partner


def _member() -> Member:
    return member_enrol(email=f"tier-cache-{uuid.uuid4().hex[:12]}@example.com")


def _db_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        value: datetime = cursor.fetchone()[0]
    return value


def test_the_check_decides_with_the_levels_as_they_are_now(db: None, partner_a: Partner) -> None:
    # given: blue (entry) and silver at 1,000, and a member at blue with 600 points,
    # checked once (the levels are parsed and kept)
    TierLevel.objects.create(code="blue", name="Blue", rank=0, threshold_points=0)
    silver = TierLevel.objects.create(code="silver", name="Silver", rank=1, threshold_points=1000)
    member = _member()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=600)
    tier_upgrade_if_due(member_id=member.pk, now=_db_now())
    assert tier_code_of(member.pk) == "blue"

    # when: the operator lowers silver to 500, and the member's next check runs
    silver.threshold_points = 500
    silver.save()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1)
    tier_upgrade_if_due(member_id=member.pk, now=_db_now())

    # then: the member is upgraded under the new threshold
    assert tier_code_of(member.pk) == "silver"

    # when: a gold level is added at 700, and the next check runs
    TierLevel.objects.create(code="gold", name="Gold", rank=2, threshold_points=700)
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=100)
    tier_upgrade_if_due(member_id=member.pk, now=_db_now())

    # then: the new level is reached at once
    assert tier_code_of(member.pk) == "gold"


def test_a_member_checked_after_every_level_is_removed_gets_none(
    db: None, partner_a: Partner
) -> None:
    # given: a level, a check that read it, and then no levels at all
    level = TierLevel.objects.create(code="solo", name="Solo", rank=0, threshold_points=10)
    first, second = _member(), _member()
    ledger.earn(member_id=first.pk, partner_id=partner_a.pk, points=5)
    tier_upgrade_if_due(member_id=first.pk, now=_db_now())
    assert tier_code_of(first.pk) == "solo"
    TierChange.objects.filter(member=first).delete()
    MemberTier.objects.filter(member=first).delete()
    level.delete()

    # when: a member with enough points for the removed level is checked
    ledger.earn(member_id=second.pk, partner_id=partner_a.pk, points=50)
    tier_upgrade_if_due(member_id=second.pk, now=_db_now())

    # then: nothing is given (the kept parse of the old levels is not used)
    assert tier_code_of(second.pk) is None
