"""The portal's history across brands (filters, keyset pages, each purchase with the
points it earned and why in words) and the member's lots; only the member's own."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from coalition.ledger import services as ledger
from coalition.members.models import Member
from loyalty_kernel import clock
from loyalty_kernel.tenancy import use_public_schema
from tenants.partners.models import Partner
from tenants.purchases import services as purchases
from tests.testkit import host_client, in_partner
from tests.testkit.api import enrol, publish_rules, service_receipt
from tests.testkit.portal import portal_client, public_host

pytestmark = pytest.mark.django_db


def _buy(partner: Partner, member: Member, total: int = 5000) -> int:
    with in_partner(partner):
        result = purchases.purchase_record(service_receipt(member, partner.default_currency, total))
    use_public_schema()
    return result.points


def test_history_shows_each_purchase_with_its_points_and_why_in_words(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given: purchases at two partners under rules of one point per unit of money
    publish_rules(partner_a)
    publish_rules(partner_b, rate="2")
    member = enrol("history")
    earned_a = _buy(partner_a, member, 5000)
    earned_b = _buy(partner_b, member, 3000)

    # when: the member opens the history
    page = portal_client(member).get("/portal/history/").content.decode()

    # then: both brands, each purchase's amount and the rule that gave the points
    assert partner_a.name in page
    assert partner_b.name in page
    assert f"+{earned_a}" in page
    assert f"+{earned_b}" in page
    assert "A purchase of" in page
    assert "Why these points" in page
    assert "1 point per EUR spent" in page
    assert f"2 points per {partner_b.default_currency} spent" in page


def test_history_filters_by_partner_kind_and_days(partner_a: Partner, partner_b: Partner) -> None:
    member = enrol("filters")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=70, memo="welcome")
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=40)
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=15)
    client = portal_client(member)

    only_b = client.get("/portal/history/", {"partner": partner_b.slug}).content.decode()
    assert "+40" in only_b
    assert "+70" not in only_b
    spent = client.get("/portal/history/", {"kind": "burn"}).content.decode()
    assert "-15" in spent
    assert "+40" not in spent
    tomorrow = (clock.now() + timedelta(days=1)).date().isoformat()
    future = client.get("/portal/history/", {"since": tomorrow}).content.decode()
    assert "Nothing to show" in future
    wrong = client.get("/portal/history/", {"since": tomorrow, "until": "2020-01-01"})
    assert wrong.status_code == 400
    assert "The end date must be on or after the start date" in wrong.content.decode()


def test_history_pages_follow_the_ledger_sequence(partner_a: Partner) -> None:
    member = enrol("pages")
    for points in range(1, 24):
        ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=points)
    client = portal_client(member)
    first = client.get("/portal/history/").content.decode()
    assert "+23" in first
    assert "+4<" in first
    assert "+3<" not in first
    after = first.split("?after=")[1].split('"')[0]
    second = client.get(f"/portal/history/?after={after}").content.decode()
    assert "+3<" in second
    assert "+1<" in second
    assert "+23" not in second


def test_lots_show_the_issuer_and_expiry_in_spending_order(
    partner_a: Partner, partner_b: Partner
) -> None:
    member = enrol("lots")
    soon = clock.now() + timedelta(days=10)
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=100)
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=30, expires_at=soon)
    page = portal_client(member).get("/portal/lots/").content.decode()
    assert page.index(partner_b.name) < page.index(partner_a.name)
    assert soon.strftime("%-d %b %Y") in page
    assert "30 of 30" in page


def test_a_member_sees_only_their_own_history_and_lots(partner_a: Partner) -> None:
    mine, theirs = enrol("mine"), enrol("theirs")
    tag = 1000 + int(uuid4().int % 1000)
    ledger.earn(member_id=theirs.pk, partner_id=partner_a.pk, points=tag)
    client = portal_client(mine)
    assert f"+{tag:,}" not in client.get("/portal/history/").content.decode()
    assert f"{tag:,} of" not in client.get("/portal/lots/").content.decode()
    assert f"+{tag:,}" in portal_client(theirs).get("/portal/history/").content.decode()


@pytest.mark.parametrize("url", ["/portal/history/", "/portal/lots/"])
def test_anonymous_visitors_are_sent_to_sign_in(url: str) -> None:
    answer = host_client(public_host()).get(url)
    assert answer.status_code == 302
    assert answer["Location"].startswith("/portal/sign-in/?next=")
