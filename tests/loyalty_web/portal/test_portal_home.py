"""The portal home: one balance split by issuing partner, and points expiring soon,
with the same number of queries however many lots the member holds."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.ledger import services as ledger
from coalition.ledger.wallet import member_wallet
from coalition.members.services import member_enrol
from loyalty_kernel import clock
from tenants.partners.models import Partner
from tests.testkit.portal import portal_client

pytestmark = pytest.mark.django_db


def test_the_home_shows_the_balance_split_by_partner_and_what_expires(
    partner_a: Partner, partner_b: Partner
) -> None:
    member = member_enrol(email=f"home-{uuid4().hex[:8]}@example.com")
    now = clock.now()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=120)
    ledger.earn(
        member_id=member.pk, partner_id=partner_b.pk, points=45, expires_at=now + timedelta(days=20)
    )
    ledger.earn(
        member_id=member.pk, partner_id=partner_b.pk, points=5, expires_at=now + timedelta(days=75)
    )
    wallet = member_wallet(member.pk, now=now)
    assert wallet.balance == 170
    assert [(share.issuer_name, share.points) for share in wallet.by_issuer] == [
        ("Alpha Grocers", 120),
        ("Beta Airways", 50),
    ]
    assert [(bucket.within_days, bucket.points) for bucket in wallet.expiring] == [
        (30, 45),
        (60, 45),
        (90, 50),
    ]
    page = portal_client(member).get("/portal/").content.decode()
    for text in ("170", "Alpha Grocers", "Beta Airways", "Expiring within 30 days"):
        assert text in page
    assert (now + timedelta(days=20)).strftime("%Y") in page


def test_the_home_queries_do_not_grow_with_the_lots(partner_a: Partner) -> None:
    member = member_enrol(email=f"count-{uuid4().hex[:8]}@example.com")
    client = portal_client(member)
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=10)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/portal/").status_code == 200
    for _ in range(5):
        ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=10)
    with CaptureQueriesContext(connection) as more:
        assert client.get("/portal/").status_code == 200
    assert len(more) == len(few)
    assert len(few) <= 10, [query["sql"] for query in few.captured_queries]


def test_a_new_member_sees_how_to_start() -> None:
    member = member_enrol(email=f"new-{uuid4().hex[:8]}@example.com")
    page = portal_client(member).get("/portal/").content.decode()
    assert "No points yet" in page


def test_the_expiring_table_has_a_row_per_day_and_partner_however_many_lots(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given: 30 lots at one partner and one at another expiring on the same day,
    # a lot just past the 30 days, one past the 90 days and one that never expires
    member = member_enrol(email=f"lots-{uuid4().hex[:8]}@example.com")
    now = clock.now()
    day = (now + timedelta(days=10)).replace(hour=12, minute=0, second=0, microsecond=0)
    for n in range(30):
        ledger.earn(
            member_id=member.pk, partner_id=partner_a.pk, points=10,
            expires_at=day + timedelta(seconds=n),
        )  # fmt: skip
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=7, expires_at=day)
    just_after = now + timedelta(days=30, minutes=1)
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=4, expires_at=just_after)
    ledger.earn(
        member_id=member.pk, partner_id=partner_a.pk, points=9,
        expires_at=now + timedelta(days=91),
    )  # fmt: skip
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=100)

    # when: the wallet is read
    wallet = member_wallet(member.pk, now=now)

    # then: one row per day and partner, the horizons to the second, all points
    # split by issuer
    assert [(lot.expires_on, lot.issuer_name, lot.points) for lot in wallet.expiring_lots] == [
        (day.date(), "Alpha Grocers", 300),
        (day.date(), "Beta Airways", 7),
        (just_after.date(), "Beta Airways", 4),
    ]
    assert [(b.within_days, b.points, b.first_date) for b in wallet.expiring] == [
        (30, 307, day.date()),
        (60, 311, day.date()),
        (90, 311, day.date()),
    ]
    assert [(share.issuer_name, share.points) for share in wallet.by_issuer] == [
        ("Alpha Grocers", 409),
        ("Beta Airways", 11),
    ]
    assert wallet.balance == 420
