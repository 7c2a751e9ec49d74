"""A partner's own share of the coalition's liability, on its host: the points it
issued that members still hold, valued at its current issuance price."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.settlement import services as settlement
from loyalty_kernel.money import money
from tenants.partners.models import Partner
from tests.testkit import api as s


def _liability(partner: Partner, key: str) -> dict[str, object]:
    reply = s.gql(s.host_of(partner), s.PARTNER_LIABILITY_QUERY, None, key)
    payload: dict[str, object] = reply.payload("liability")
    return payload


def test_liability_counts_the_points_this_partner_issued_that_members_still_hold(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: alpha's terms price an issued point at 1.5 cents, and its key
    settlement.terms_set(partner=partner_a, effective_from=timezone.now(),
                         issuance_price=Decimal("1.5"), reimbursement_rate=Decimal(1))  # fmt: skip
    key = s.partner_key(partner_a, ["settlement"])
    before = _liability(partner_a, key)["outstandingPoints"]
    assert isinstance(before, int)

    # when: alpha issues 301 points, beta 500, and a member spends 101 of alpha's at beta
    member = s.funded_member(partner_a, 301)
    s.funded_member(partner_b, 500)
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=101)
    after = _liability(partner_a, key)

    # then: 200 more outstanding for alpha (beta's points are not alpha's liability)
    assert after["outstandingPoints"] == before + 200
    # and: valued at alpha's price, as the coalition-wide report values alpha's line
    points = before + 200
    assert after["value"] == money(settlement.money(points, Decimal("1.5")), "EUR")
    line = next(ln for ln in settlement.liability_report().lines if ln.issuer_id == partner_a.pk)
    assert (line.outstanding_points, line.value, line.currency) == (
        points, settlement.money(points, Decimal("1.5")), "EUR",
    )  # fmt: skip


def test_expired_points_leave_the_liability(db: None, partner_a: Partner) -> None:
    # given: 40 of alpha's points that expired a second ago are still in a lot
    s.cover_every_partner_with_terms()
    key = s.partner_key(partner_a, ["settlement"])
    before = _liability(partner_a, key)["outstandingPoints"]
    assert isinstance(before, int)
    member = s.enrol("expiry")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=40,
                expires_at=timezone.now() + timedelta(days=1))  # fmt: skip
    assert _liability(partner_a, key)["outstandingPoints"] == before + 40

    # when: the member's lots expire
    ledger.member_lots_expire(member_id=member.pk, now=timezone.now() + timedelta(days=2))

    # then: they are breakage, not liability
    assert _liability(partner_a, key)["outstandingPoints"] == before


def test_liability_without_terms_has_points_but_no_value(db: None) -> None:
    # given: a new partner without settlement terms that issued 25 points
    newcomer = s.onboard(prefix="liable", currency="EUR")
    s.funded_member(newcomer, 25)

    # when: it reads its liability
    liability = _liability(newcomer, s.partner_key(newcomer, ["settlement"]))

    # then: the points, and no value (nothing says what they are worth)
    assert liability == {"outstandingPoints": 25, "value": None}


def test_liability_needs_the_settlement_scope(db: None, partner_a: Partner) -> None:
    # given / when: a till's key (earn and redeem only)
    reply = s.gql(s.HOST_A, s.PARTNER_LIABILITY_QUERY, None,
                  s.partner_key(partner_a, ["earn", "redeem"]))  # fmt: skip

    # then: a typed refusal, no figures
    assert reply.graphql_codes == ["permission_denied"]
    assert reply.body["data"] is None
