"""Every typed refusal of the ledger, and that a refusal changes nothing; then the
read side (history, lots, derived balances).

"Nothing changed" means: the same number of rows in every ledger table, the
same balances, lots and holds for the members involved.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from django.utils import timezone

from coalition.ledger import selectors, services, snapshots
from coalition.ledger.errors import (
    AmountNotPositive,
    CaptureExceedsHold,
    HoldAlreadyResolved,
    HoldExpired,
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidExpiry,
    NotReversible,
    PartnerNotActive,
    ReversalExceedsOriginal,
    TransferToSelf,
    UnknownHold,
    UnknownPartner,
    UnknownTransaction,
    WrongPartner,
)
from coalition.ledger.services import Posting
from coalition.ledger.verification import verify
from coalition.members.errors import MemberNotActive, UnknownMember
from coalition.members.services import member_enrol, member_erase, member_set_status
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner
from tenants.partners.services import partner_change_status
from tests.testkit import assert_on_test_database
from tests.testkit.ledger import fetchall, invariant_violations, ledger_state, scalar

NO_MEMBER = 10**12
NO_PARTNER = 10**9
NO_HOLD = 10**12


@pytest.fixture(autouse=True)
def _fresh_account_cache() -> Iterator[None]:
    # each test's transaction is rolled back: accounts cached as known may be gone
    services.forget_known_accounts()
    yield
    services.forget_known_accounts()


def _member(points: int = 0, partner: Partner | None = None) -> int:
    member = member_enrol(email=f"err-{uuid.uuid4().hex[:12]}@example.com").pk
    if points:
        assert partner is not None
        services.earn(member_id=member, partner_id=partner.pk, points=points)
    return member


@contextmanager
def nothing_changes(*member_ids: int) -> Iterator[None]:
    before = ledger_state(member_ids)
    yield
    assert ledger_state(member_ids) == before
    assert invariant_violations(member_ids) == []


def _refused(error: type[Exception], members: tuple[int, ...], call: Callable[[], Any]) -> None:
    with nothing_changes(*members), pytest.raises(error):
        call()


def _key() -> IdempotencyKey:
    return IdempotencyKey("partner:errors", uuid.uuid4().hex)


# --- amounts ------------------------------------------------------------------------

NOT_POSITIVE: list[Any] = [0, -5, True, False, 1.5, "10", None]


@pytest.mark.parametrize("bad", NOT_POSITIVE, ids=repr)
def test_points_must_be_a_positive_whole_number(db: None, partner_a: Partner, bad: Any) -> None:
    # given a member with points, a pending hold and an earn to reverse
    ann, bob = _member(500, partner_a), _member()
    hold = services.hold_authorize(member_id=ann, partner_id=partner_a.pk, points=50)
    earned = services.earn(member_id=ann, partner_id=partner_a.pk, points=40)
    members = (ann, bob)
    a = partner_a.pk
    # when any operation is asked for zero, negative, boolean or non-integer
    # points, then it is refused as AmountNotPositive and nothing changes
    calls: list[Callable[[], Any]] = [
        lambda: services.earn(member_id=ann, partner_id=a, points=bad),
        lambda: services.burn(member_id=ann, partner_id=a, points=bad),
        lambda: services.hold_authorize(member_id=ann, partner_id=a, points=bad),
        lambda: services.transfer(from_member_id=ann, to_member_id=bob, points=bad),
    ]
    if bad is not None:  # for a capture or a reversal, None means "all of it"
        calls += [
            lambda: services.hold_capture(hold_id=int(hold.result["hold"]), points=bad),
            lambda: services.reverse(transaction_id=earned.transaction_id, points=bad),
        ]
    for call in calls:
        _refused(AmountNotPositive, members, call)


# --- balances -----------------------------------------------------------------------


def test_spending_more_than_the_balance_is_refused(db: None, partner_a: Partner) -> None:
    # given ann with 300 points, 100 of them on hold
    ann, bob = _member(300, partner_a), _member()
    services.hold_authorize(member_id=ann, partner_id=partner_a.pk, points=100)
    a = partner_a.pk
    # when she burns, holds or transfers more than the 200 left, then each is refused
    for call in [
        lambda: services.burn(member_id=ann, partner_id=a, points=201),
        lambda: services.hold_authorize(member_id=ann, partner_id=a, points=201),
        lambda: services.transfer(from_member_id=ann, to_member_id=bob, points=201),
    ]:
        _refused(InsufficientPoints, (ann, bob), call)
    # while exactly the balance is fine, and leaves zero
    assert services.burn(member_id=ann, partner_id=a, points=200).balance_after == 0


def test_reversing_spent_points_needs_an_explicit_shortfall(db: None, partner_a: Partner) -> None:
    # given an earn of 100 of which 80 were spent
    ann = _member()
    earned = services.earn(member_id=ann, partner_id=partner_a.pk, points=100)
    services.burn(member_id=ann, partner_id=partner_a.pk, points=80)
    # when the whole earn is reversed without allowing a shortfall, then it is refused
    _refused(
        InsufficientPoints, (ann,), lambda: services.reverse(transaction_id=earned.transaction_id)
    )
    # with a shortfall, the 20 still there are taken back, 80 reported, never below zero
    posting = services.reverse(transaction_id=earned.transaction_id, allow_shortfall=True)
    assert posting.result == {"reversed": 20, "shortfall": 80, "balance_after": 0}
    assert selectors.balance(ann) == 0


# --- members and partners ---------------------------------------------------------------


def test_unknown_members_are_refused(db: None, partner_a: Partner) -> None:
    ann = _member(100, partner_a)
    a = partner_a.pk
    for call in [
        lambda: services.earn(member_id=NO_MEMBER, partner_id=a, points=5),
        lambda: services.burn(member_id=NO_MEMBER, partner_id=a, points=5),
        lambda: services.hold_authorize(member_id=NO_MEMBER, partner_id=a, points=5),
        lambda: services.transfer(from_member_id=ann, to_member_id=NO_MEMBER, points=5),
        lambda: services.transfer(from_member_id=NO_MEMBER, to_member_id=ann, points=5),
        lambda: selectors.balance(NO_MEMBER),
    ]:
        _refused(UnknownMember, (ann,), call)


def test_a_blocked_member_cannot_earn_burn_hold_or_transfer(db: None, partner_a: Partner) -> None:
    # given bob with 100 points, earned before he was blocked, and ann active
    ann, bob = _member(100, partner_a), _member()
    earned = services.earn(member_id=bob, partner_id=partner_a.pk, points=100)
    member_set_status(member_id=bob, status="blocked")
    a = partner_a.pk
    # when anything would move his points, then it is refused and nothing changes
    for call in [
        lambda: services.earn(member_id=bob, partner_id=a, points=5),
        lambda: services.burn(member_id=bob, partner_id=a, points=5),
        lambda: services.hold_authorize(member_id=bob, partner_id=a, points=5),
        lambda: services.transfer(from_member_id=bob, to_member_id=ann, points=5),
        lambda: services.transfer(from_member_id=ann, to_member_id=bob, points=5),
    ]:
        _refused(MemberNotActive, (ann, bob), call)
    # but a partner can still take back (reverse) what it gave him
    posting = services.reverse(transaction_id=earned.transaction_id, points=60)
    assert posting.result == {"reversed": 60, "shortfall": 0, "balance_after": 40}
    # and once unblocked he can spend again
    member_set_status(member_id=bob, status="active")
    assert services.burn(member_id=bob, partner_id=a, points=40).balance_after == 0


def test_an_erased_member_cannot_earn(db: None, partner_a: Partner) -> None:
    ann = _member(10, partner_a)
    member_erase(member_id=ann)
    _refused(
        MemberNotActive,
        (ann,),
        lambda: services.earn(member_id=ann, partner_id=partner_a.pk, points=5),
    )


def test_a_suspended_partner_cannot_issue_or_redeem(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given ann with points, and partner B suspended
    ann = _member(300, partner_a)
    partner_change_status(partner=partner_b, to_status="suspended")
    b = partner_b.pk
    # when B would issue, redeem or hold points, then it is refused
    for call in [
        lambda: services.earn(member_id=ann, partner_id=b, points=5),
        lambda: services.burn(member_id=ann, partner_id=b, points=5),
        lambda: services.hold_authorize(member_id=ann, partner_id=b, points=5),
    ]:
        _refused(PartnerNotActive, (ann,), call)
    # while partner A goes on
    assert services.burn(member_id=ann, partner_id=partner_a.pk, points=5).balance_after == 295


def test_a_suspended_partner_cannot_capture_holds_authorised_before(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given ann with three holds at B, authorised while B was active, and then B
    # suspended (ADR 0014)
    ann = _member(300, partner_a)
    b = partner_b.pk
    captured, voided, expiring = (
        int(services.hold_authorize(member_id=ann, partner_id=b, points=50).result["hold"])
        for _ in range(3)
    )
    partner_change_status(partner=partner_b, to_status="suspended")
    # when B captures one, wholly or in part, then it is refused and nothing moves
    _refused(PartnerNotActive, (ann,), lambda: services.hold_capture(hold_id=captured))
    _refused(
        PartnerNotActive,
        (ann,),
        lambda: services.hold_capture(hold_id=captured, points=10, partner_id=b),
    )
    # and the points still come back to ann by void or by expiry
    services.hold_void(hold_id=voided, partner_id=b)
    expires_at = timezone.now() + timedelta(minutes=15, seconds=1)
    assert services.holds_expire(now=expires_at) >= 2
    assert selectors.balance(ann) == 300
    assert fetchall(
        "SELECT status FROM public.ledger_hold WHERE id = ANY(%s) ORDER BY id",
        [[captured, voided, expiring]],
    ) == [("expired",), ("voided",), ("expired",)]
    assert invariant_violations((ann,)) == []


def test_an_unknown_partner_is_refused(db: None, partner_a: Partner) -> None:
    ann = _member(300, partner_a)
    for call in [
        lambda: services.earn(member_id=ann, partner_id=NO_PARTNER, points=5),
        lambda: services.burn(member_id=ann, partner_id=NO_PARTNER, points=5),
        lambda: services.hold_authorize(member_id=ann, partner_id=NO_PARTNER, points=5),
    ]:
        _refused(UnknownPartner, (ann,), call)
    # and no account was opened for it
    assert (
        scalar("SELECT count(*) FROM public.ledger_account WHERE partner_id = %s", [NO_PARTNER])
        == 0
    )


def test_an_unknown_partner_is_refused_outside_a_transaction(
    live_db: None, partner_a: Partner
) -> None:
    assert_on_test_database()
    # given autocommit (as an API call runs), and a partner id that does not exist:
    # opening its accounts must not fail on the foreign key instead
    services.forget_known_accounts()
    ann = _member()
    partner = NO_PARTNER + int(uuid.uuid4().int % 10**6)
    for call in [
        lambda: services.earn(member_id=ann, partner_id=partner, points=5),
        lambda: services.burn(member_id=ann, partner_id=partner, points=5),
        lambda: services.earn(member_id=ann, partner_id=partner, points=5),  # now cached
    ]:
        _refused(UnknownPartner, (ann,), call)
    assert (
        scalar("SELECT count(*) FROM public.ledger_account WHERE partner_id = %s", [partner]) == 0
    )


# --- idempotency --------------------------------------------------------------------


def test_a_key_reused_for_another_request_is_refused(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given one request of every kind, each posted with its own key
    ann, bob = _member(1000, partner_a), _member()
    a, b = partner_a.pk, partner_b.pk
    keys = [_key() for _ in range(7)]
    services.earn(member_id=ann, partner_id=a, points=10, idempotency=keys[0])
    burned = services.burn(member_id=ann, partner_id=a, points=10, idempotency=keys[1])
    hold = services.hold_authorize(member_id=ann, partner_id=b, points=50, idempotency=keys[2])
    hold_id = int(hold.result["hold"])
    other_hold = int(services.hold_authorize(member_id=ann, partner_id=b, points=5).result["hold"])
    services.hold_capture(hold_id=hold_id, points=20, idempotency=keys[3])
    services.hold_void(hold_id=other_hold, idempotency=keys[4])
    services.transfer(from_member_id=ann, to_member_id=bob, points=10, idempotency=keys[5])
    services.reverse(transaction_id=burned.transaction_id, points=5, idempotency=keys[6])
    # when a key comes back with another payload, or for another operation, then it is
    # refused and nothing is posted
    for call in [
        lambda: services.earn(member_id=ann, partner_id=a, points=11, idempotency=keys[0]),
        lambda: services.earn(member_id=ann, partner_id=b, points=10, idempotency=keys[0]),
        lambda: services.earn(
            member_id=ann, partner_id=a, points=10, idempotency=keys[0], external_ref="r2"
        ),
        lambda: services.burn(member_id=ann, partner_id=a, points=11, idempotency=keys[1]),
        lambda: services.earn(member_id=ann, partner_id=a, points=10, idempotency=keys[1]),
        lambda: services.hold_authorize(
            member_id=ann, partner_id=b, points=51, idempotency=keys[2]
        ),
        lambda: services.hold_capture(hold_id=hold_id, points=21, idempotency=keys[3]),
        lambda: services.hold_capture(hold_id=hold_id, idempotency=keys[3]),
        lambda: services.hold_void(hold_id=other_hold, partner_id=b, idempotency=keys[4]),
        lambda: services.transfer(
            from_member_id=bob, to_member_id=ann, points=10, idempotency=keys[5]
        ),
        lambda: services.reverse(
            transaction_id=burned.transaction_id, points=4, idempotency=keys[6]
        ),
    ]:
        _refused(IdempotencyKeyReused, (ann, bob), call)


def test_the_same_request_replays_without_posting_again(db: None, partner_a: Partner) -> None:
    # given a hold authorised with a key and no explicit expiry (the default one)
    ann = _member(100, partner_a)
    key = _key()
    now = timezone.now()
    hold = services.hold_authorize(
        member_id=ann, partner_id=partner_a.pk, points=30, idempotency=key, now=now
    )
    # when the caller retries it a minute later (the default expiry would be a
    # minute later too), then it gets the same posting and nothing is posted
    with nothing_changes(ann):
        replay = services.hold_authorize(
            member_id=ann,
            partner_id=partner_a.pk,
            points=30,
            idempotency=key,
            now=now + timedelta(minutes=1),
        )
    assert replay == hold
    assert replay.replayed
    # and so for a capture of all of it and a transfer
    capture_key = _key()
    captured = services.hold_capture(hold_id=int(hold.result["hold"]), idempotency=capture_key)
    with nothing_changes(ann):
        assert services.hold_capture(hold_id=int(hold.result["hold"]), idempotency=capture_key) == (
            captured
        )


# --- holds --------------------------------------------------------------------------


def test_a_hold_resolves_once(db: None, partner_a: Partner) -> None:
    # given ann with two holds: one captured, one voided
    ann = _member(500, partner_a)
    captured = int(
        services.hold_authorize(member_id=ann, partner_id=partner_a.pk, points=100).result["hold"]
    )
    voided = int(
        services.hold_authorize(member_id=ann, partner_id=partner_a.pk, points=50).result["hold"]
    )
    services.hold_capture(hold_id=captured, points=60)
    services.hold_void(hold_id=voided)
    assert selectors.balance(ann) == 500 - 60
    # when either is captured or voided again, then it is refused and nothing moves
    for call in [
        lambda: services.hold_capture(hold_id=captured),
        lambda: services.hold_capture(hold_id=captured, points=10),
        lambda: services.hold_void(hold_id=captured),
        lambda: services.hold_capture(hold_id=voided),
        lambda: services.hold_void(hold_id=voided),
    ]:
        _refused(HoldAlreadyResolved, (ann,), call)
    # and the expiry sweeper leaves them alone even long after their expiry
    with nothing_changes(ann):
        services.holds_expire(now=timezone.now() + timedelta(days=30))
    assert fetchall(
        "SELECT status FROM public.ledger_hold WHERE id = ANY(%s) ORDER BY id", [[captured, voided]]
    ) == [("captured",), ("voided",)]


def test_an_expired_hold_cannot_be_captured(db: None, partner_a: Partner) -> None:
    # given a hold that expires in a minute
    ann = _member(100, partner_a)
    expires_at = timezone.now() + timedelta(minutes=1)
    hold = int(
        services.hold_authorize(
            member_id=ann, partner_id=partner_a.pk, points=40, expires_at=expires_at
        ).result["hold"]
    )
    later = expires_at + timedelta(seconds=1)
    # when it is captured after its expiry, then it is refused
    _refused(HoldExpired, (ann,), lambda: services.hold_capture(hold_id=hold, now=later))
    # and the sweeper gives the points back, once
    assert services.holds_expire(now=later) >= 1
    assert selectors.balance(ann) == 100
    _refused(HoldAlreadyResolved, (ann,), lambda: services.hold_capture(hold_id=hold))


def test_a_capture_cannot_exceed_the_hold(db: None, partner_a: Partner) -> None:
    ann = _member(500, partner_a)
    hold = int(
        services.hold_authorize(member_id=ann, partner_id=partner_a.pk, points=100).result["hold"]
    )
    _refused(CaptureExceedsHold, (ann,), lambda: services.hold_capture(hold_id=hold, points=101))
    # the full hold is fine
    assert services.hold_capture(hold_id=hold, points=100).result["released"] == 0


def test_unknown_holds_and_another_partners_hold(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    ann = _member(500, partner_a)
    hold = int(
        services.hold_authorize(member_id=ann, partner_id=partner_a.pk, points=100).result["hold"]
    )
    for error, call in [
        (UnknownHold, lambda: services.hold_capture(hold_id=NO_HOLD)),
        (UnknownHold, lambda: services.hold_capture(hold_id=NO_HOLD, points=5)),
        (UnknownHold, lambda: services.hold_void(hold_id=NO_HOLD)),
        (WrongPartner, lambda: services.hold_capture(hold_id=hold, partner_id=partner_b.pk)),
        (WrongPartner, lambda: services.hold_void(hold_id=hold, partner_id=partner_b.pk)),
    ]:
        _refused(error, (ann,), call)


def test_expiry_dates_must_be_aware_and_holds_expire_in_the_future(
    db: None, partner_a: Partner
) -> None:
    ann = _member(100, partner_a)
    naive = datetime.now() + timedelta(days=1)  # naive on purpose
    a = partner_a.pk
    for call in [
        lambda: services.earn(member_id=ann, partner_id=a, points=5, expires_at=naive),
        lambda: services.hold_authorize(member_id=ann, partner_id=a, points=5, expires_at=naive),
        lambda: services.hold_authorize(
            member_id=ann, partner_id=a, points=5, expires_at=timezone.now() - timedelta(seconds=1)
        ),
    ]:
        _refused(InvalidExpiry, (ann,), call)


def test_an_earn_never_creates_a_lot_that_has_already_expired(db: None, partner_a: Partner) -> None:
    # given ann, and an expiry a second ago
    ann = _member(100, partner_a)
    a = partner_a.pk
    past = timezone.now() - timedelta(seconds=1)
    # when an earn or a batch item carries it, then it is refused and nothing moves
    for call in [
        lambda: services.earn(member_id=ann, partner_id=a, points=5, expires_at=past),
        lambda: services.earn_batch(
            [
                services.EarnRequest(ann, a, 5),
                services.EarnRequest(ann, a, 7, expires_at=past),
            ]
        ),
    ]:
        _refused(InvalidExpiry, (ann,), call)
    # and an expiry a second from now is accepted
    soon = timezone.now() + timedelta(seconds=1)
    assert services.earn(member_id=ann, partner_id=a, points=5, expires_at=soon).points == 5


# --- reversals and transfers ------------------------------------------------------------


def test_only_earns_burns_and_transfers_can_be_reversed(db: None, partner_a: Partner) -> None:
    # given a hold, its capture, a reversal and an expiry
    ann = _member(500, partner_a)
    hold = services.hold_authorize(member_id=ann, partner_id=partner_a.pk, points=100)
    capture = services.hold_capture(hold_id=int(hold.result["hold"]))
    burned = services.burn(member_id=ann, partner_id=partner_a.pk, points=10)
    reversal = services.reverse(transaction_id=burned.transaction_id, points=5)
    # when any of them is reversed, then it is refused as not reversible
    for tx_id in (hold.transaction_id, capture.transaction_id, reversal.transaction_id):
        _refused(NotReversible, (ann,), partial(services.reverse, transaction_id=tx_id))
    _refused(UnknownTransaction, (ann,), lambda: services.reverse(transaction_id=NO_HOLD, points=1))


def test_partial_reversals_never_exceed_the_original(db: None, partner_a: Partner) -> None:
    # given an earn of 100
    ann = _member()
    earned = services.earn(member_id=ann, partner_id=partner_a.pk, points=100)
    tx = earned.transaction_id
    # when it is reversed in parts: 60, then 50 (too much), then 40, then 1
    services.reverse(transaction_id=tx, points=60)
    _refused(
        ReversalExceedsOriginal, (ann,), lambda: services.reverse(transaction_id=tx, points=50)
    )
    assert services.reverse(transaction_id=tx, points=40).balance_after == 0
    # then anything more, "the rest" included, is refused
    _refused(ReversalExceedsOriginal, (ann,), lambda: services.reverse(transaction_id=tx, points=1))
    _refused(ReversalExceedsOriginal, (ann,), lambda: services.reverse(transaction_id=tx))


def test_a_transfer_reversed_in_parts_gives_points_back_to_the_senders_lots(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given ann's two lots (50 from A, 50 from B) transferred to bob as 100 points
    ann, bob = _member(), _member()
    services.earn(member_id=ann, partner_id=partner_a.pk, points=50)
    services.earn(member_id=ann, partner_id=partner_b.pk, points=50)
    sent = services.transfer(from_member_id=ann, to_member_id=bob, points=100)
    # when the transfer is reversed in two parts, 40 then 30
    services.reverse(transaction_id=sent.transaction_id, points=40)
    services.reverse(transaction_id=sent.transaction_id, points=30)
    # then bob keeps 30 and ann has 70 back, and every wallet equals its lots
    # (a second part once "gave back" points to bob's lots instead of ann's)
    assert (selectors.balance(ann), selectors.balance(bob)) == (70, 30)
    assert sum(lot.remaining for lot in selectors.lots(ann)) == 70
    assert sum(lot.remaining for lot in selectors.lots(bob)) == 30
    assert invariant_violations([ann, bob]) == []


def test_a_member_cannot_transfer_to_themselves(db: None, partner_a: Partner) -> None:
    ann = _member(100, partner_a)
    _refused(
        TransferToSelf,
        (ann,),
        lambda: services.transfer(from_member_id=ann, to_member_id=ann, points=5),
    )


# --- reads --------------------------------------------------------------------------


def test_history_is_newest_first_and_pages_by_ledger_sequence(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given ann's earn at A, burn at B, transfer to bob and a reversal of the burn
    ann, bob = _member(), _member()
    postings: list[tuple[Posting, int, str | None]] = []
    earned = services.earn(member_id=ann, partner_id=partner_a.pk, points=300, memo="welcome")
    postings.append((earned, 300, partner_a.name))
    burned = services.burn(member_id=ann, partner_id=partner_b.pk, points=100, external_ref="t-1")
    postings.append((burned, -100, partner_b.name))
    postings.append((services.transfer(from_member_id=ann, to_member_id=bob, points=50), -50, None))
    postings.append((services.reverse(transaction_id=burned.transaction_id), 100, partner_b.name))
    services.earn(member_id=bob, partner_id=partner_a.pk, points=7)  # not ann's
    # when her history is read two items at a time
    pages, before = [], None
    while True:
        page = selectors.history(ann, before=before, limit=2)
        pages.append(page)
        if page.next_before is None:
            break
        before = page.next_before
    # then the pages hold her movements newest first, each once, with signed
    # points and the partner's name, and the last page says there is no more
    items = [item for page in pages for item in page.items]
    assert [len(page.items) for page in pages] == [2, 2]
    assert [(i.transaction_id, i.points, i.partner_name) for i in items] == [
        (posting.transaction_id, points, name) for posting, points, name in reversed(postings)
    ]
    assert pages[0].next_before == items[1].transaction_id
    assert items[-1].memo == "welcome"
    assert items[-2].external_ref == "t-1"
    assert selectors.history(ann, before=items[-1].transaction_id).items == []


def test_lots_are_listed_in_the_order_they_are_spent(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given lots expiring in 30 days, 1 day, never, and 10 days
    ann = _member()
    now = timezone.now()
    plan = [(partner_a, 30), (partner_b, 1), (partner_a, None), (partner_b, 10)]
    lot_ids = {}
    for partner, days in plan:
        expires = None if days is None else now + timedelta(days=days)
        posting = services.earn(
            member_id=ann, partner_id=partner.pk, points=10 * (days or 100), expires_at=expires
        )
        lot_ids[days] = int(posting.result["lot"])
    # when they are listed, then soonest expiry comes first, no expiry last
    lots = selectors.lots(ann)
    assert [lot.lot_id for lot in lots] == [lot_ids[1], lot_ids[10], lot_ids[30], lot_ids[None]]
    assert [lot.issuer_name for lot in lots] == [
        partner_b.name,
        partner_b.name,
        partner_a.name,
        partner_a.name,
    ]
    # and a burn spends them in that order: a spent lot is only listed on request
    services.burn(member_id=ann, partner_id=partner_a.pk, points=10 + 50)
    assert [(lot.lot_id, lot.remaining) for lot in selectors.lots(ann)][:2] == [
        (lot_ids[10], 50),
        (lot_ids[30], 300),
    ]
    assert lot_ids[1] in {lot.lot_id for lot in selectors.lots(ann, include_spent=True)}


def _issued_by(partner: Partner) -> int:
    """Points a partner has put into circulation, from the journal's headers
    (earned minus what earn reversals took back), independently of any entry."""
    return int(
        scalar(
            """
            SELECT coalesce(sum(CASE WHEN kind = 'earn' THEN points
                                     ELSE -(result->>'reversed')::bigint END), 0)
              FROM public.ledger_transaction
             WHERE partner_id = %s AND kind IN ('earn', 'earn_reversal')
            """,
            [partner.pk],
        )
    )


def test_a_partner_issuance_balance_is_minus_the_points_it_issued(
    db: None, partner_a: Partner
) -> None:
    # given partner A's issuance account (other tests' committed data included)
    ann = _member()
    services.partner_accounts_ensure(partner_a.pk)
    issuance = int(
        scalar(
            "SELECT id FROM public.ledger_account WHERE partner_id = %s AND kind = 'issuance'",
            [partner_a.pk],
        )
    )
    start = selectors.account_balance(issuance)
    assert start == -_issued_by(partner_a)
    # when A issues 100 and 50, and 30 are reversed
    first = services.earn(member_id=ann, partner_id=partner_a.pk, points=100)
    services.earn(member_id=ann, partner_id=partner_a.pk, points=50)
    services.reverse(transaction_id=first.transaction_id, points=30)
    # then its balance is minus what it issued
    assert selectors.account_balance(issuance) == start - 120 == -_issued_by(partner_a)
    # and stays right after a snapshot, and after further posts on top of it
    assert snapshots.snapshot_derived_accounts() >= 1
    assert selectors.account_balance(issuance) == start - 120
    services.earn(member_id=ann, partner_id=partner_a.pk, points=7)
    services.burn(member_id=ann, partner_id=partner_a.pk, points=20)  # not an issuance
    assert selectors.account_balance(issuance) == start - 127 == -_issued_by(partner_a)
    # the hot account itself never stores a balance, and the snapshot verifies
    assert scalar("SELECT balance FROM public.ledger_account WHERE id = %s", [issuance]) == 0
    assert verify().ok
