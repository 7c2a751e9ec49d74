"""Previewing new terms: what the last closed period would have cost a partner
under them equals, to the cent, what closing that period with those terms in
force produces; and the checks a proposal passes before it can be set."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.settlement.errors import InvalidTerms, TermsBeforeInForce, TermsEffectiveInPast
from coalition.settlement.models import SettlementTerms
from coalition.settlement.proposals import terms_preview, terms_propose
from tenants.partners.models import Partner
from tests.testkit.settlement import (
    AFTER_EXPIRY,
    EARNED_AT,
    EXPIRES_AT,
    close_everything_before,
    close_now,
    known_terms,
    lines_of,
    month_end,
    new_member,
    statement_of,
)

NEW = {
    "issuance_price": Decimal("1.37"),
    "reimbursement_rate": Decimal("0.613"),
    "fee_percent": Decimal("2.75"),
    "fee_fixed": 999,
    "breakage_share_percent": Decimal("33.3"),
}


def _generated_period(partner: Partner, other: Partner, seed: int) -> None:
    """Earns at both partners, burns of each other's points, returns, reversed
    redemptions and an expiry, with amounts drawn from ``seed``."""
    draw = random.Random(seed)
    members = [new_member("preview") for _ in range(4)]
    earns = []
    for member in members:
        for at in (partner, other):
            earns.append(ledger.earn(member_id=member, partner_id=at.pk,
                                     points=draw.randint(100, 5000)))  # fmt: skip
    ledger.earn(member_id=members[0], partner_id=partner.pk, points=draw.randint(10, 900),
                expires_at=EXPIRES_AT, now=EARNED_AT)  # fmt: skip
    burns = [
        ledger.burn(member_id=member, partner_id=at.pk, points=draw.randint(1, 90))
        for member in members
        for at in (partner, other)
    ]
    ledger.reverse(transaction_id=earns[0].transaction_id, points=draw.randint(1, 50))
    ledger.reverse(transaction_id=burns[0].transaction_id, points=1)
    ledger.lots_expire(now=AFTER_EXPIRY)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_preview_equals_a_close_under_the_new_terms_to_the_cent(
    db: None, partner_a: Partner, partner_b: Partner, seed: int
) -> None:
    # given a partner's terms, a period of generated events, and that period closed
    old = known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8",
                      fee_percent="2", fee_fixed=500, breakage_share_percent="50")  # fmt: skip
    known_terms(partner_b, issuance_price="1.2", reimbursement_rate="0.9")
    close_everything_before()
    _generated_period(partner_a, partner_b, seed)
    saved = transaction.savepoint()
    closed = close_now(now=month_end())
    as_closed = statement_of(closed, partner_a)
    # when new terms are previewed against it
    proposed = terms_propose(partner=partner_a, effective_from=timezone.now(), **NEW)
    preview = terms_preview(proposed=proposed)
    # then it shows what the period did cost
    assert preview.period == closed
    assert preview.net_now == as_closed.net_amount
    # and, undoing that close, closing the same events with those terms in force all
    # along produces the previewed statement to the cent
    transaction.savepoint_rollback(saved)
    SettlementTerms.objects.filter(pk=old.pk).update(**NEW)
    again = close_now(now=month_end())
    under_new = statement_of(again, partner_a)
    assert (again.start_watermark, again.end_watermark) == (
        closed.start_watermark, closed.end_watermark)  # fmt: skip
    assert sorted((line.kind, line.points, line.amount) for line in preview.proposed.lines) == (
        lines_of(under_new)
    )
    assert preview.net_proposed == under_new.net_amount
    assert preview.net_proposed != preview.net_now


def test_a_version_change_inside_the_period_is_previewed_as_one_version(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given two versions in force in turn during the period
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8",
                        effective_from=timezone.now() - timedelta(days=2))  # fmt: skip
    known_terms(partner_b, issuance_price="1.0", reimbursement_rate="0.8")
    close_everything_before()
    member = new_member("preview")
    ledger.earn(member_id=member, partner_id=partner_a.pk, points=333)
    ledger.earn(member_id=member, partner_id=partner_a.pk, points=333,
                now=timezone.now() - timedelta(days=1, hours=12))  # fmt: skip
    known_terms(partner_a, issuance_price="2.0", reimbursement_rate="0.8",
                effective_from=timezone.now() - timedelta(days=1))  # fmt: skip
    close_now()
    # when terms at 0.5 per point are previewed
    proposed = terms_propose(partner=partner_a, effective_from=timezone.now(),
                             **{**NEW, "issuance_price": Decimal("0.5"),
                                "fee_percent": Decimal(0), "fee_fixed": 0})  # fmt: skip
    preview = terms_preview(proposed=proposed)
    # then all 666 points are valued at once: 333 (not 167 + 167)
    assert [(line.kind, line.points, line.amount) for line in preview.proposed.lines] == [
        ("issued", 666, 333)
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issuance_price", Decimal("-0.1")),
        ("reimbursement_rate", Decimal("-1")),
        ("fee_fixed", -1),
        ("fee_percent", Decimal("-1")),
        ("fee_percent", Decimal("100.5")),
        ("breakage_share_percent", Decimal("101")),
    ],
)
def test_each_invalid_value_is_refused_naming_its_field(
    db: None, partner_a: Partner, field: str, value: object
) -> None:
    # when a proposal has one value out of range
    with pytest.raises(InvalidTerms) as refused:
        terms_propose(partner=partner_a, effective_from=timezone.now(), **{**NEW, field: value})
    # then the error names that field
    assert refused.value.code == "invalid_terms"
    assert refused.value.field == field


def test_terms_cannot_take_effect_in_the_past(db: None, partner_a: Partner) -> None:
    with pytest.raises(TermsEffectiveInPast) as refused:
        terms_propose(partner=partner_a, effective_from=timezone.now() - timedelta(days=2), **NEW)
    assert refused.value.field == "effective_from"


def test_terms_cannot_take_effect_before_the_version_in_force(db: None, partner_a: Partner) -> None:
    # given a version in force since a minute ago
    in_force = known_terms(partner_a, issuance_price="1", reimbursement_rate="1",
                           effective_from=timezone.now() - timedelta(minutes=1))  # fmt: skip
    # when new terms would take effect before it
    earlier = in_force.effective_from - timedelta(seconds=1)
    with pytest.raises(TermsBeforeInForce) as refused:
        terms_propose(partner=partner_a, effective_from=earlier, **NEW)
    assert refused.value.code == "terms_before_in_force"
