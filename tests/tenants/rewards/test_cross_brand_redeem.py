"""Earn at partner A, redeem at partner B: the burn records which issuer's lots it
consumed (lot movements and the posting's ``consumed`` list), soonest expiry first,
so settlement can charge the right issuer."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Lot, LotMovement, Transaction
from coalition.ledger.verification import verify
from coalition.members.services import member_enrol
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tests.testkit import in_partner
from tests.testkit.concurrency import wallet_state


def _movements(transaction_id: int) -> list[tuple[int, int, int]]:
    """(lot, points, issuer) of a transaction's lot movements, in the order made."""
    return [
        (movement.lot_id, movement.points, movement.lot.issuer_id)
        for movement in LotMovement.objects.filter(transaction_id=transaction_id)
        .select_related("lot")
        .order_by("id")
    ]


def test_points_earned_at_a_and_redeemed_at_b_are_traced_to_issuer_a(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a member whose only points were earned at A
    member = member_enrol(email=f"traveller-{uuid.uuid4().hex[:10]}@example.com")
    earned = ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=800)
    lot_a = earned.result["lot"]
    with in_partner(partner_b):
        rewards.reward_save(code="lounge-pass", name="Lounge pass", points_price=300)

        # when: the member redeems a reward at B
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code="lounge-pass")

    # then: the burn is B's, and every point it took came from A's lot
    burn = Transaction.objects.get(pk=voucher.burn_transaction_id)
    assert (burn.kind, burn.partner_id, burn.points) == ("burn", partner_b.pk, 300)
    assert _movements(burn.pk) == [(lot_a, -300, partner_a.pk)]
    assert burn.result["consumed"] == [{"lot": lot_a, "points": 300, "issuer": partner_a.pk}]
    assert Lot.objects.get(pk=lot_a).remaining == 500
    assert wallet_state(member.pk) == (500, 500, 500)
    assert verify().ok


def test_burn_consumes_two_issuers_lots_soonest_expiry_first(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: lots from both issuers; A's expire soonest, one of B's never expires
    now = timezone.now()
    member = member_enrol(email=f"two-issuers-{uuid.uuid4().hex[:10]}@example.com")
    b_never = ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=1000).result["lot"]
    b_late = ledger.earn(
        member_id=member.pk,
        partner_id=partner_b.pk,
        points=200,
        expires_at=now + timedelta(days=400),
    ).result["lot"]
    a_soon = ledger.earn(
        member_id=member.pk,
        partner_id=partner_a.pk,
        points=150,
        expires_at=now + timedelta(days=20),
    ).result["lot"]
    a_mid = ledger.earn(
        member_id=member.pk,
        partner_id=partner_a.pk,
        points=100,
        expires_at=now + timedelta(days=90),
    ).result["lot"]
    with in_partner(partner_b):
        rewards.reward_save(code="upgrade", name="Cabin upgrade", points_price=120)
        rewards.reward_save(code="flight", name="Short-haul flight", points_price=400)

        # when: a first reward at B costs less than A's soonest lot
        first = rewards.reward_redeem(member_id=member.pk, reward_code="upgrade")
        # and a second one spans A's remaining lots and then B's dated lot
        second = rewards.reward_redeem(member_id=member.pk, reward_code="flight")

    # then: the first burn consumed only issuer A's soonest-expiring lot
    assert _movements(first.burn_transaction_id) == [(a_soon, -120, partner_a.pk)]
    first_burn = Transaction.objects.get(pk=first.burn_transaction_id)
    assert {item["issuer"] for item in first_burn.result["consumed"]} == {partner_a.pk}
    # and the second: A's rest (30 then 100) before B's dated lot, B's undated lot last
    assert _movements(second.burn_transaction_id) == [
        (a_soon, -30, partner_a.pk),
        (a_mid, -100, partner_a.pk),
        (b_late, -200, partner_b.pk),
        (b_never, -70, partner_b.pk),
    ]
    second_burn = Transaction.objects.get(pk=second.burn_transaction_id)
    assert second_burn.result["consumed"] == [
        {"lot": a_soon, "points": 30, "issuer": partner_a.pk},
        {"lot": a_mid, "points": 100, "issuer": partner_a.pk},
        {"lot": b_late, "points": 200, "issuer": partner_b.pk},
        {"lot": b_never, "points": 70, "issuer": partner_b.pk},
    ]
    # per issuer, what B honoured: 250 of A's points and 270 of its own
    by_issuer: dict[int, int] = {}
    for burn in (first_burn, second_burn):
        for item in burn.result["consumed"]:
            by_issuer[item["issuer"]] = by_issuer.get(item["issuer"], 0) + item["points"]
    assert by_issuer == {partner_a.pk: 250, partner_b.pk: 270}
    assert ledger_selectors.balance(member.pk) == 1450 - 520
    assert wallet_state(member.pk) == (930, 930, 930)
    report = verify()
    assert report.ok, report.problems


def test_cancelled_voucher_gives_the_points_back_to_the_lots_they_came_from(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a reward at B paid with one lot from A and one from B
    now = timezone.now()
    member = member_enrol(email=f"canceller-{uuid.uuid4().hex[:10]}@example.com")
    lot_a = ledger.earn(
        member_id=member.pk, partner_id=partner_a.pk, points=100, expires_at=now + timedelta(days=5)
    ).result["lot"]
    lot_b = ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=100).result["lot"]
    with in_partner(partner_b):
        rewards.reward_save(code="meal", name="Meal voucher", points_price=150, stock=4)
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code="meal")
        assert [Lot.objects.get(pk=lot).remaining for lot in (lot_a, lot_b)] == [0, 50]

        # when: the unused voucher is cancelled
        rewards.voucher_cancel(code=voucher.code)

    # then: each lot gets back what the burn took from it
    assert [Lot.objects.get(pk=lot).remaining for lot in (lot_a, lot_b)] == [100, 100]
    assert wallet_state(member.pk) == (200, 200, 200)
    assert verify().ok
