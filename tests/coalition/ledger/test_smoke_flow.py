"""A member's life through the ledger, end to end, with the books checked after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coalition.ledger import chain, selectors, services
from coalition.ledger.errors import IdempotencyKeyReused, InsufficientPoints
from coalition.ledger.verification import verify
from coalition.members.services import member_enrol
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner


def test_earn_burn_hold_reverse_transfer_expire_keep_the_books_balanced(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    ann = member_enrol(email="ann@example.com")
    bob = member_enrol(email="bob@example.com")
    key = IdempotencyKey("partner:alpha", "receipt-1")

    earned = services.earn(member_id=ann.pk, partner_id=partner_a.pk, points=500, idempotency=key)
    assert earned.balance_after == 500
    replay = services.earn(member_id=ann.pk, partner_id=partner_a.pk, points=500, idempotency=key)
    assert replay == earned
    assert replay.replayed
    with pytest.raises(IdempotencyKeyReused):
        services.earn(member_id=ann.pk, partner_id=partner_a.pk, points=501, idempotency=key)

    soon = timezone.now() + timedelta(days=1)
    services.earn(member_id=ann.pk, partner_id=partner_b.pk, points=100, expires_at=soon)
    burned = services.burn(member_id=ann.pk, partner_id=partner_b.pk, points=150)
    # the lot expiring soonest (B's 100) goes first, then 50 of A's
    assert [(c["issuer"], c["points"]) for c in burned.result["consumed"]] == [
        (partner_b.pk, 100),
        (partner_a.pk, 50),
    ]
    with pytest.raises(InsufficientPoints):
        services.burn(member_id=ann.pk, partner_id=partner_b.pk, points=10_000)

    hold = services.hold_authorize(member_id=ann.pk, partner_id=partner_b.pk, points=100)
    captured = services.hold_capture(hold_id=hold.result["hold"], points=60)
    assert captured.result == {
        "hold": hold.result["hold"],
        "captured": 60,
        "released": 40,
        "balance_after": 390,
    }
    services.reverse(transaction_id=burned.transaction_id, points=50)
    services.transfer(from_member_id=ann.pk, to_member_id=bob.pk, points=40)
    partial = services.reverse(
        transaction_id=earned.transaction_id, points=500, allow_shortfall=True
    )
    assert partial.result["shortfall"] > 0
    assert selectors.balance(ann.pk) >= 0

    services.earn(
        member_id=bob.pk,
        partner_id=partner_a.pk,
        points=70,
        expires_at=timezone.now() + timedelta(seconds=1),
    )
    expired = services.lots_expire(now=timezone.now() + timedelta(days=2))
    assert expired >= 70
    assert services.lots_expire(now=timezone.now() + timedelta(days=2)) == 0

    assert chain.seal_all() > 0
    report = verify()
    assert report.ok, report.problems
    history = selectors.history(ann.pk, limit=3)
    assert len(history.items) == 3
    assert history.next_before is not None
