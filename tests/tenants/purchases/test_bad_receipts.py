"""Every bad receipt gets a typed error and posts nothing; a recorded purchase
stores a breakdown that explains its points rule by rule."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.verification import verify
from coalition.members.errors import MemberNotActive, UnknownMember
from coalition.members.models import Member
from coalition.members.numbers import member_number_from_sequence
from coalition.members.services import member_set_status
from loyalty_kernel.errors import DomainError
from tenants.earning import services as earning
from tenants.earning.engine import InvalidBasket, UnsupportedCurrency
from tenants.earning.models import CampaignBudgetBucket, EarnRule
from tenants.earning.selectors import campaign_issued_points
from tenants.partners.models import Partner
from tenants.purchases.errors import InvalidReceipt, NoRulesInForce
from tenants.purchases.models import Purchase, PurchaseLine
from tenants.purchases.services import Receipt, ReceiptLine, purchase_record
from tenants.stores.services import store_create
from tests.testkit import in_partner
from tests.testkit.earning import max_transaction_id, new_member, publish, receipt, uid

LINE = ReceiptLine("A", "food", 2, 1000)

# Each case turns a good receipt (2 x 10.00 EUR, now, member m) into a bad one.
BadReceipt = Callable[[Receipt, Member, datetime], Receipt]

BAD_RECEIPTS: dict[str, tuple[BadReceipt, type[DomainError]]] = {
    "not-an-iso-currency": (lambda r, m, now: replace(r, currency="XYZ"), UnsupportedCurrency),
    "iso-currency-without-a-rate": (
        lambda r, m, now: replace(r, currency="USD"),
        UnsupportedCurrency,
    ),
    "negative-quantity": (
        lambda r, m, now: replace(r, lines=(ReceiptLine("A", "food", -2, 1000),), total=-2000),
        InvalidBasket,
    ),
    "zero-quantity": (
        lambda r, m, now: replace(r, lines=(ReceiptLine("A", "food", 0, 1000),), total=0),
        InvalidBasket,
    ),
    "lines-do-not-add-up-to-total": (lambda r, m, now: replace(r, total=1999), InvalidBasket),
    "tax-not-in-total": (lambda r, m, now: replace(r, tax=300), InvalidBasket),
    "discount-above-the-line": (
        lambda r, m, now: replace(
            r, lines=(ReceiptLine("A", "food", 2, 1000, discount=2001),), total=-1
        ),
        InvalidBasket,
    ),
    "negative-discount": (
        lambda r, m, now: replace(
            r, lines=(ReceiptLine("A", "food", 2, 1000, discount=-1),), total=2001
        ),
        InvalidBasket,
    ),
    "paid-with-points-above-total": (
        lambda r, m, now: replace(r, paid_with_points=2001),
        InvalidBasket,
    ),
    "occurred-more-than-5-minutes-ahead": (
        lambda r, m, now: replace(r, occurred_at=now + timedelta(minutes=5, seconds=1)),
        InvalidReceipt,
    ),
    "occurred-tomorrow": (
        lambda r, m, now: replace(r, occurred_at=now + timedelta(days=1)),
        InvalidReceipt,
    ),
    "naive-occurred-at": (
        lambda r, m, now: replace(r, occurred_at=now.replace(tzinfo=None)),
        InvalidReceipt,
    ),
    "unknown-member": (lambda r, m, now: replace(r, member_id=m.pk + 10**9), UnknownMember),
    "unknown-member-number": (
        # a well-formed number (valid check digit) that nobody holds
        lambda r, m, now: replace(r, member_id=None, member_number=_unused_number(m)),
        UnknownMember,
    ),
    "malformed-member-number": (
        lambda r, m, now: replace(r, member_id=None, member_number="not-a-number"),
        UnknownMember,
    ),
    "unknown-store": (lambda r, m, now: replace(r, store_code="NOWHERE-1"), InvalidReceipt),
    "no-rules-in-force-then": (
        lambda r, m, now: replace(r, occurred_at=datetime(2001, 1, 1, tzinfo=UTC)),
        NoRulesInForce,
    ),
    "empty-external-id": (lambda r, m, now: replace(r, external_id=""), InvalidReceipt),
    "unknown-channel": (lambda r, m, now: replace(r, channel="fax"), InvalidReceipt),
}


def _state(member_id: int) -> tuple[Any, ...]:
    """Everything a purchase could leave behind."""
    return (
        Purchase.objects.count(),
        PurchaseLine.objects.count(),
        list(CampaignBudgetBucket.objects.order_by("pk").values_list("pk", "issued")),
        max_transaction_id(),
        ledger_selectors.balance(member_id),
    )


@pytest.mark.parametrize(("make_bad", "error"), list(BAD_RECEIPTS.values()), ids=list(BAD_RECEIPTS))
def test_bad_receipt_is_refused_and_posts_nothing(
    db: None, partner_a: Partner, make_bad: BadReceipt, error: type[DomainError]
) -> None:
    # given rules in force, a running bonus campaign with budget, and a member
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish(
            [("base_rate", {"rates": {"EUR": "1", "GBP": "1"}})],
            effective_from=now,
            now=now,
        )
        earning.campaign_create(
            name="welcome",
            kind="bonus",
            params={"points": 50},
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            budget_points=1000,
        )
        store_create(code=uid("S")[:30], name="Main street")
        good = receipt(member.pk, now, LINE)
        bad = make_bad(good, member, now)
        before = _state(member.pk)
        # when the bad receipt is recorded
        with pytest.raises(error) as caught:
            purchase_record(bad, now=now)
        # then it is refused with a typed error carrying a code, and nothing was
        # recorded, taken from the campaign budget or posted to the ledger
        assert caught.value.code
        assert _state(member.pk) == before
        assert not Purchase.objects.filter(external_id=bad.external_id).exists()
        # and the good receipt still goes through
        assert purchase_record(good, now=now).points == 20 + 50


def _unused_number(member: Member) -> str:
    for candidate in range(900_000_000, 900_001_000):
        number = member_number_from_sequence(candidate)
        if not Member.objects.filter(member_number=number).exists():
            return number
    raise AssertionError("no unused member number")


def test_a_receipt_names_its_member_by_number_or_by_id_alike(db: None, partner_a: Partner) -> None:
    # given: rules in force and a member
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        by_number = replace(
            receipt(member.pk, now, LINE), member_id=None, member_number=member.member_number
        )
        # when: the till records it by member number, then retries it by id
        first = purchase_record(by_number, now=now)
        retry = purchase_record(replace(by_number, member_id=member.pk, member_number=""), now=now)
        # then: the points went to that member, and the retry replays the purchase
        assert first.points == 20
        assert not first.replayed
        assert retry.replayed
        assert retry.purchase_id == first.purchase_id
        assert Purchase.objects.get(external_id=by_number.external_id).member_id == member.pk
        assert ledger_selectors.balance(member.pk) == 20


def test_blocked_member_cannot_earn(db: None, partner_a: Partner) -> None:
    # given a blocked member and rules in force
    now = timezone.now()
    member = new_member()
    member_set_status(member_id=member.pk, status="blocked")
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        before = _state(member.pk)
        # when a purchase is recorded for them, then it is refused
        bad = receipt(member.pk, now, LINE)
        with pytest.raises(MemberNotActive):
            purchase_record(bad, now=now)
        # and nothing was recorded or posted
        assert _state(member.pk) == before
        assert not Purchase.objects.filter(external_id=bad.external_id).exists()
        # and once unblocked the same receipt earns
        member_set_status(member_id=member.pk, status="active")
        assert purchase_record(bad, now=now).points == 20


def test_no_rule_version_in_force_posts_nothing(db: None, partner_a: Partner) -> None:
    # given a version that takes effect only in an hour
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish(
            [("base_rate", {"rates": {"EUR": "1"}})],
            effective_from=now + timedelta(hours=1),
            now=now,
        )
        # when a purchase from three years ago (before any version) is recorded
        old = receipt(member.pk, now - timedelta(days=3 * 365), LINE)
        before = _state(member.pk)
        with pytest.raises(NoRulesInForce):
            purchase_record(old, now=now)
        # then nothing was recorded or posted
        assert _state(member.pk) == before


@pytest.mark.parametrize(
    "ahead",
    [
        pytest.param(timedelta(minutes=4, seconds=59), id="4m59s-ahead"),
        pytest.param(timedelta(minutes=5), id="exactly-5m-ahead"),
    ],
)
def test_clock_skew_within_5_minutes_is_accepted(
    db: None, partner_a: Partner, ahead: timedelta
) -> None:
    # given a till whose clock runs up to 5 minutes ahead
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        # when it sends a purchase stamped in our future, then it is recorded
        result = purchase_record(receipt(member.pk, now + ahead, LINE), now=now)
    assert result.points == 20
    assert ledger_selectors.balance(member.pk) == 20


def test_stored_breakdown_explains_the_points(db: None, partner_a: Partner) -> None:
    # given a version of several rules and two running campaigns
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        version = publish(
            [
                ("base_rate", {"rates": {"EUR": "1"}}),
                ("category_multiplier", {"category": "fresh", "multiplier": "2"}),
                ("sku_bonus", {"sku": "COFFEE", "points_per_unit": 5}),
                ("rounding", {"mode": "half_up"}),
                ("receipt_cap", {"points": 40}),
            ],
            effective_from=now,
            now=now,
        )
        bonus = earning.campaign_create(
            name="bonus", kind="bonus", params={"points": 15},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
        )  # fmt: skip
        first = earning.campaign_create(
            name="first", kind="first_purchase_bonus", params={"points": 100},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
        )  # fmt: skip
        # when a purchase is recorded: fresh 12.50 x 2 = 25, coffee 3 x 2.35 = 7.05
        # + 3 x 5 bonus = 22.05 -> 47.05 -> 47 (half up) -> capped at 40
        result = purchase_record(
            receipt(
                member.pk,
                now,
                ReceiptLine("SALAD", "fresh", 1, 1250),
                ReceiptLine("COFFEE", "drinks", 3, 235),
            ),
            now=now,
        )
        stored = Purchase.objects.get(pk=result.purchase_id)
        rule_ids = dict(EarnRule.objects.filter(version=version).values_list("kind", "pk"))
    # then the stored breakdown has a line per rule that contributed, by rule id
    breakdown = stored.breakdown
    lines = breakdown["contributions"]
    by_rule = {(c["source"], c["id"]): Decimal(c["points"]) for c in lines}
    assert by_rule[("rule", rule_ids["base_rate"])] == Decimal("19.55")
    assert by_rule[("rule", rule_ids["category_multiplier"])] == Decimal("12.5")
    assert by_rule[("rule", rule_ids["sku_bonus"])] == 15
    assert by_rule[("rule", rule_ids["rounding"])] == Decimal("-0.05")
    assert by_rule[("rule", rule_ids["receipt_cap"])] == -7
    assert by_rule[("campaign", bonus.pk)] == 15
    assert by_rule[("campaign", first.pk)] == 100
    # and the lines add up to the points awarded and to the purchase's columns
    rule_sum = sum(Decimal(c["points"]) for c in lines if c["source"] == "rule")
    campaign_sum = sum(Decimal(c["points"]) for c in lines if c["source"] == "campaign")
    assert (rule_sum, campaign_sum) == (stored.rule_points, stored.campaign_points) == (40, 115)
    assert breakdown["total"] == stored.points_awarded == result.points == 155
    assert breakdown["campaign_points"] == {str(bonus.pk): 15, str(first.pk): 100}
    assert breakdown["balance_after"] == ledger_selectors.balance(member.pk) == 155
    assert result.breakdown == breakdown


def test_stored_breakdown_explains_a_campaign_clipped_by_its_budget(
    db: None, partner_a: Partner
) -> None:
    # given a x3 campaign with only 12 points of budget left
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        triple = earning.campaign_create(
            name="triple", kind="multiplier", params={"multiplier": "3"},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
            budget_points=12,
        )  # fmt: skip
        # when a 20-point purchase wants 40 campaign points
        result = purchase_record(receipt(member.pk, now, LINE), now=now)
        stored = Purchase.objects.get(pk=result.purchase_id)
    # then the campaign grants the 12 left, and the stored breakdown still adds up
    # to what was awarded (the clipping is explained, not hidden)
    assert (stored.rule_points, stored.campaign_points, stored.points_awarded) == (20, 12, 32)
    with in_partner(partner_a):
        assert campaign_issued_points(triple.pk) == 12
    lines = stored.breakdown["contributions"]
    campaign_lines = [c for c in lines if c["source"] == "campaign" and c["id"] == triple.pk]
    assert sum(Decimal(c["points"]) for c in campaign_lines) == 12
    assert sum(Decimal(c["points"]) for c in lines) == stored.points_awarded
    report = verify()
    assert report.ok, report.problems


def test_request_hash_is_the_text_it_always_was() -> None:
    # given: receipts with every optional field set and unset
    plain = Receipt("R-1", 7, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "EUR", (LINE,), 2000)
    full = replace(plain, tax=10, tip=5, paid_with_points=100, channel="online",
                   store_code="S1", lines=(LINE, ReceiptLine("B", "toys", 1, 15, discount=5)),
                   total=2025)  # fmt: skip
    for receipt_ in (plain, full):
        # when: hashed the way stored purchases were hashed (all fields, as a dict)
        payload = asdict(receipt_)
        del payload["member_number"]
        payload["occurred_at"] = receipt_.occurred_at.isoformat()
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        # then: the same digest, so retries of purchases stored before still replay
        assert receipt_.request_hash() == hashlib.sha256(text.encode()).hexdigest()
