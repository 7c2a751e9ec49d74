"""Points adjustments: a partner adds points (a lot it issued, expiring like an
earn) or takes points back (only from lots it issued, never another partner's,
never below zero), with a reason, within a daily cap per partner-local day,
audited and idempotent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from coalition.adjustments import services as adjustments
from coalition.adjustments.errors import (
    AdjustmentCapReached,
    AdjustmentExceedsBalance,
    AdjustmentPointsInvalid,
    AdjustmentReasonMissing,
    AdjustmentReasonTooLong,
)
from coalition.adjustments.models import Adjustment
from coalition.adjustments.selectors import cap_today, local_day
from coalition.audit.models import AuditEntry
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Entry, Lot, Transaction
from coalition.ledger.verification import verify
from coalition.members.models import Member
from coalition.members.services import member_enrol
from loyalty_kernel.idempotency import IdempotencyKey, IdempotencyKeyReused
from tenants.partners.models import Partner


def _member() -> Member:
    return member_enrol(email=f"adjust-{uuid.uuid4().hex}@example.com")


def _key(key: str | None = None) -> IdempotencyKey:
    return IdempotencyKey("test:adjust", key or uuid.uuid4().hex)


def _adjust(partner: Partner, member: Member, points: int, **extra: Any) -> Any:
    options: dict[str, Any] = {"reason": "late delivery", "actor": "tester", "idempotency": _key()}
    options.update(extra)
    return adjustments.adjust_points(partner=partner, member=member, points=points, **options)


def _entries(transaction_id: int) -> list[tuple[str, int | None, int]]:
    return sorted(
        (entry.account.kind, entry.account.partner_id, entry.amount)
        for entry in Entry.objects.filter(transaction_id=transaction_id).select_related("account")
    )


def test_a_credit_is_issued_by_the_partner_as_a_lot_that_expires_like_an_earn(
    db: None, partner_a: Partner
) -> None:
    member = _member()
    result = _adjust(partner_a, member, 250, reason="  parcel arrived late  ")
    record = result.adjustment
    assert not result.replayed
    assert (record.points, record.reason, record.balance_after) == (250, "parcel arrived late", 250)
    assert record.local_day == local_day(partner_a)
    tx = Transaction.objects.get(pk=record.ledger_transaction_id)
    assert (tx.kind, tx.partner_id, tx.member_id, tx.points) == (
        "adjustment_credit",
        partner_a.pk,
        member.pk,
        250,
    )
    assert tx.memo == "parcel arrived late"
    assert _entries(tx.pk) == [("issuance", partner_a.pk, -250), ("wallet", None, 250)]
    lot = Lot.objects.get(transaction_id=tx.pk)
    assert (lot.issuer_id, lot.points, lot.remaining) == (partner_a.pk, 250, 250)
    # the expiry policy dates it like an earn made now (months after, never None here)
    assert lot.expires_at is not None
    assert lot.expires_at > timezone.now() + timedelta(days=28)
    assert ledger_selectors.balance(member.pk) == 250
    audit = AuditEntry.objects.get(action="points.adjust", object_id=member.member_number)
    assert audit.partner_id == partner_a.pk
    assert audit.actor_label == "tester"
    assert audit.after == {
        "points": 250,
        "reason": "parcel arrived late",
        "transaction": tx.pk,
        "balance_after": 250,
    }
    assert verify().ok


def test_a_debit_takes_points_back_only_from_the_partners_own_lots(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given a member with 150 points from A (two lots) and 100 from B, B's lot expiring first
    member = _member()
    soon = ledger.earn(
        member_id=member.pk,
        partner_id=partner_a.pk,
        points=50,
        expires_at=timezone.now() + timedelta(days=10),
    )
    own = ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=100)
    other = ledger.earn(
        member_id=member.pk,
        partner_id=partner_b.pk,
        points=100,
        expires_at=timezone.now() + timedelta(days=3),
    )
    # when A takes back 120
    record = _adjust(partner_a, member, -120, reason="points given twice").adjustment
    # then only A's lots pay, soonest expiry first; B's lot is untouched
    assert (record.points, record.balance_after) == (-120, 130)
    tx = Transaction.objects.get(pk=record.ledger_transaction_id)
    assert (tx.kind, tx.points) == ("adjustment_debit", 120)
    assert _entries(tx.pk) == [("issuance", partner_a.pk, 120), ("wallet", None, -120)]
    remaining = dict(Lot.objects.filter(member=member).values_list("transaction_id", "remaining"))
    assert remaining == {soon.transaction_id: 0, own.transaction_id: 30, other.transaction_id: 100}
    assert [(c["issuer"], c["points"]) for c in tx.result["consumed"]] == [
        (partner_a.pk, 50),
        (partner_a.pk, 70),
    ]
    assert ledger_selectors.balance(member.pk) == 130
    assert verify().ok


def test_a_debit_beyond_the_partners_own_lots_is_refused_and_changes_nothing(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given a member with 300 points from A and 40 from B
    member = _member()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=300)
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=40)
    lots_before = sorted(Lot.objects.filter(member=member).values_list("id", "remaining"))
    transactions_before = Transaction.objects.count()
    # when B takes back 41: within the balance of 340, beyond the 40 it issued
    with pytest.raises(AdjustmentExceedsBalance) as refused:
        _adjust(partner_b, member, -41)
    # then the typed error says how many it may take back, and nothing changed
    assert refused.value.code == "adjustment_exceeds_balance"
    assert refused.value.field == "points"
    assert "40" in refused.value.message
    assert Transaction.objects.count() == transactions_before
    assert sorted(Lot.objects.filter(member=member).values_list("id", "remaining")) == lots_before
    assert ledger_selectors.balance(member.pk) == 340
    assert ledger_selectors.points_issued_by(member.pk, partner_b.pk) == 40
    assert not Adjustment.objects.filter(member=member).exists()
    assert not AuditEntry.objects.filter(object_id=member.member_number).exists()
    assert verify().ok


def test_a_partner_that_issued_nothing_to_the_member_cannot_take_any_back(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    member = _member()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=500)
    with pytest.raises(AdjustmentExceedsBalance):
        _adjust(partner_b, member, -1)
    assert ledger_selectors.balance(member.pk) == 500
    assert not Adjustment.objects.filter(member=member).exists()


def test_a_debit_of_more_than_the_balance_posts_nothing(db: None, partner_a: Partner) -> None:
    member = _member()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=40)
    before = Transaction.objects.count()
    with pytest.raises(AdjustmentExceedsBalance) as refused:
        _adjust(partner_a, member, -41)
    assert refused.value.field == "points"
    assert Transaction.objects.count() == before
    assert not Adjustment.objects.filter(member=member).exists()
    assert not AuditEntry.objects.filter(object_id=member.member_number).exists()
    assert ledger_selectors.balance(member.pk) == 40


@pytest.mark.parametrize(
    ("points", "reason", "error", "field"),
    [
        (0, "a reason", AdjustmentPointsInvalid, "points"),
        (10_000_001, "a reason", AdjustmentPointsInvalid, "points"),
        (10, "   ", AdjustmentReasonMissing, "reason"),
        (10, "", AdjustmentReasonMissing, "reason"),
        (10, "x" * 201, AdjustmentReasonTooLong, "reason"),
    ],
)
def test_invalid_requests_are_refused_with_typed_errors(
    db: None, partner_a: Partner, points: int, reason: str, error: type[Exception], field: str
) -> None:
    member = _member()
    with pytest.raises(error) as refused:
        _adjust(partner_a, member, points, reason=reason)
    assert getattr(refused.value, "field", None) == field
    assert not Adjustment.objects.filter(member=member).exists()
    assert ledger_selectors.balance(member.pk) == 0


def test_the_same_key_replays_and_another_request_with_it_is_refused(
    db: None, partner_a: Partner
) -> None:
    member = _member()
    key = _key()
    first = _adjust(partner_a, member, 120, idempotency=key)
    again = _adjust(partner_a, member, 120, idempotency=key)
    assert again.replayed
    assert again.adjustment.pk == first.adjustment.pk
    with pytest.raises(IdempotencyKeyReused):
        _adjust(partner_a, member, 121, idempotency=key)
    assert Adjustment.objects.filter(member=member).count() == 1
    assert Transaction.objects.filter(member_id=member.pk).count() == 1
    assert ledger_selectors.balance(member.pk) == 120


def test_the_daily_cap_counts_credits_and_debits_of_the_partners_local_day(
    db: None, partner_a: Partner, partner_b: Partner, settings: Any
) -> None:
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = 1000
    partner_a.time_zone = "Pacific/Auckland"  # UTC+13 in December
    partner_a.save(update_fields=["time_zone"])
    member = _member()
    # 12:00 UTC on 6 December is 01:00 on 7 December in Auckland
    noon = datetime(2031, 12, 6, 12, 0, tzinfo=UTC)
    Adjustment.objects.filter(partner=partner_a).delete()  # nothing of other tests counts
    _adjust(partner_a, member, 600, now=noon)
    _adjust(partner_a, member, -300, now=noon)
    assert cap_today(partner_a, noon).used == 900
    assert cap_today(partner_a, noon).left == 100
    with pytest.raises(AdjustmentCapReached) as refused:
        _adjust(partner_a, member, 101, now=noon)
    assert refused.value.field == "points"
    assert "100" in refused.value.message
    _adjust(partner_a, member, 100, now=noon)  # exactly up to the cap
    # another partner has its own cap
    _adjust(partner_b, member, 500, now=noon)
    # 10:00 UTC was still 6 December in Auckland: a day of its own
    _adjust(partner_a, member, 1000, now=noon - timedelta(hours=2))
    assert ledger_selectors.balance(member.pk) == 600 - 300 + 100 + 500 + 1000
    assert verify().ok
