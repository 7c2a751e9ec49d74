"""``earn_batch``: many earns in one database transaction, with the guarantees of
single earns (idempotency per item, typed errors, balanced books), all or nothing."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from coalition.ledger import chain, selectors, services
from coalition.ledger.errors import (
    AmountNotPositive,
    IdempotencyKeyReused,
    InvalidExpiry,
    PartnerNotActive,
    UnknownPartner,
)
from coalition.ledger.services import EarnRequest, Posting, bulk_earning
from coalition.ledger.verification import verify
from coalition.members.errors import MemberNotActive, UnknownMember
from coalition.members.services import member_set_status
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner
from tests.testkit import assert_on_test_database
from tests.testkit.concurrency import books_report, run_threads, unique_member, wallet_state


def _key(name: str, scope: str = "") -> IdempotencyKey:
    return IdempotencyKey(scope or f"partner:batch-{uuid.uuid4().hex[:8]}", name)


def _transaction_count(member_ids: list[int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM public.ledger_transaction WHERE member_id = ANY(%s)",
            [member_ids],
        )
        return int(cursor.fetchone()[0])


def _items(
    members: list[int], partners: list[Partner], count: int, scope: str
) -> list[EarnRequest]:
    return [
        EarnRequest(
            member_id=members[i % len(members)],
            partner_id=partners[i % len(partners)].pk,
            points=1 + (i * 7) % 50,
            idempotency=IdempotencyKey(scope, f"receipt-{i}"),
            external_ref=f"r{i}",
        )
        for i in range(count)
    ]


def test_a_batch_posts_every_earn_like_single_earns_would(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    members = [unique_member("batch").pk for _ in range(3)]
    services.earn(member_id=members[0], partner_id=partner_a.pk, points=5)
    expires = timezone.now() + timedelta(days=365)
    items = _items(members, [partner_a, partner_b], 250, scope="partner:batch-happy")
    items[3] = EarnRequest(members[0], partner_b.pk, 40, expires_at=expires, memo="no key")

    postings = services.earn_batch(items)

    assert len(postings) == len(items)
    assert all(p.kind == "earn" and not p.replayed for p in postings)
    assert [p.points for p in postings] == [item.points for item in items]
    # balance_after runs per member in batch order, from the balance before
    running = {members[0]: 5, members[1]: 0, members[2]: 0}
    for item, posting in zip(items, postings, strict=True):
        running[item.member_id] += item.points
        assert posting.balance_after == running[item.member_id]
    # ledger order follows batch order
    ids = [p.transaction_id for p in postings]
    assert ids == sorted(ids)
    for member in members:
        assert selectors.balance(member) == running[member]
        stored, entries, in_lots = wallet_state(member)
        assert stored == entries == in_lots == running[member]
    # each earn made one lot, issued by its partner, with its expiry
    lot = next(v for v in selectors.lots(members[0]) if v.lot_id == postings[3].result["lot"])
    assert (lot.issuer_id, lot.points, lot.expires_at) == (partner_b.pk, 40, expires)
    assert _transaction_count(members) == len(items) + 1
    # a single earn with an item's key replays exactly what the batch returned
    again = services.earn(
        member_id=items[0].member_id,
        partner_id=items[0].partner_id,
        points=items[0].points,
        idempotency=items[0].idempotency,
        external_ref=items[0].external_ref,
    )
    assert again == postings[0]
    assert again.replayed

    books = books_report()
    assert books.unbalanced_transactions == []
    assert books.grand_total == 0
    assert books.wallets_off_entries == books.wallets_off_lots == []
    chain.seal_all()
    report = verify()
    assert report.ok, report.problems


def test_a_repeated_batch_replays_and_posts_only_what_is_new(db: None, partner_a: Partner) -> None:
    members = [unique_member("batch").pk for _ in range(2)]
    first = _items(members, [partner_a], 20, scope="partner:batch-replay")
    posted = services.earn_batch(first)
    balances = [selectors.balance(m) for m in members]

    replayed = services.earn_batch(first)

    assert replayed == posted
    assert all(p.replayed for p in replayed)
    assert [selectors.balance(m) for m in members] == balances
    assert _transaction_count(members) == 20

    # half old keys, half new: the old ones replay, the new ones post
    mixed = first[10:] + _items(members, [partner_a], 30, scope="partner:batch-replay")[20:]
    result = services.earn_batch(mixed)
    assert result[:10] == posted[10:]
    assert all(p.replayed for p in result[:10])
    assert not any(p.replayed for p in result[10:])
    assert _transaction_count(members) == 30
    for member in members:
        stored, entries, in_lots = wallet_state(member)
        assert stored == entries == in_lots


def test_the_same_key_twice_in_a_batch_posts_once(db: None, partner_a: Partner) -> None:
    member = unique_member("batch").pk
    key = _key("twice")
    item = EarnRequest(member, partner_a.pk, 25, idempotency=key)

    postings = services.earn_batch([item, EarnRequest(member, partner_a.pk, 5), item])

    assert postings[2] == postings[0]
    assert (postings[0].replayed, postings[2].replayed) == (False, True)
    assert selectors.balance(member) == 30
    assert _transaction_count([member]) == 2


def _nothing_posted(members: list[int], balances: list[int]) -> None:
    assert [selectors.balance(m) for m in members] == balances
    assert _transaction_count(members) == 0


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("unknown_member", UnknownMember),
        ("blocked_member", MemberNotActive),
        ("unknown_partner", UnknownPartner),
        ("suspended_partner", PartnerNotActive),
        ("zero_points", AmountNotPositive),
        ("naive_expiry", InvalidExpiry),
        ("key_twice_other_payload", IdempotencyKeyReused),
    ],
)
def test_one_bad_item_refuses_the_whole_batch_with_its_typed_error(
    db: None, partner_a: Partner, partner_b: Partner, change: str, error: type[Exception]
) -> None:
    members = [unique_member("batch").pk for _ in range(2)]
    items = _items(members, [partner_a], 10, scope=f"partner:batch-{uuid.uuid4().hex[:8]}")
    bad: dict[str, Any] = {"member_id": members[1], "partner_id": partner_b.pk, "points": 10}
    if change == "unknown_member":
        bad["member_id"] = 2**40
    elif change == "blocked_member":
        member_set_status(member_id=members[1], status="blocked")
    elif change == "unknown_partner":
        bad["partner_id"] = 2**40
    elif change == "suspended_partner":
        Partner.objects.filter(pk=partner_b.pk).update(status="suspended")
    elif change == "zero_points":
        bad["points"] = 0
    elif change == "naive_expiry":
        bad["expires_at"] = datetime(2099, 1, 1)  # naive on purpose
    elif change == "key_twice_other_payload":
        bad["idempotency"] = items[0].idempotency
    items.insert(5, EarnRequest(**bad))

    with pytest.raises(error):
        services.earn_batch(items)

    _nothing_posted(members, [0, 0])


def test_a_key_used_before_for_another_request_refuses_the_batch(
    db: None, partner_a: Partner
) -> None:
    member = unique_member("batch").pk
    key = _key("used")
    services.earn(member_id=member, partner_id=partner_a.pk, points=10, idempotency=key)

    with pytest.raises(IdempotencyKeyReused):
        services.earn_batch(
            [
                EarnRequest(member, partner_a.pk, 5),
                EarnRequest(member, partner_a.pk, 11, idempotency=key),
            ]
        )

    assert selectors.balance(member) == 10
    assert _transaction_count([member]) == 1


def test_an_empty_batch_posts_nothing(db: None) -> None:
    assert services.earn_batch([]) == []


def test_a_key_taken_by_a_concurrent_earn_replays_its_result(
    live_db: None, partner_a: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's insert waits on a concurrent uncommitted earn with the same key;
    once that commits, the batch falls back to item by item and replays it."""
    assert_on_test_database()
    members = [unique_member("batch-race").pk for _ in range(2)]
    key = _key("contested")
    posted, release = threading.Event(), threading.Event()
    fallbacks: list[int] = []
    one_by_one = bulk_earning._earn_one_by_one

    def counting(items: list[EarnRequest], now: datetime) -> list[Posting]:
        fallbacks.append(len(items))
        return one_by_one(items, now)

    monkeypatch.setattr(bulk_earning, "_earn_one_by_one", counting)

    def rival(_index: int) -> Posting:
        with transaction.atomic():
            posting = services.earn(
                member_id=members[0], partner_id=partner_a.pk, points=30, idempotency=key
            )
            posted.set()
            release.wait(10)
        return posting

    def batch(_index: int) -> list[Posting]:
        assert posted.wait(10)
        threading.Timer(0.5, release.set).start()
        return services.earn_batch(
            [
                EarnRequest(members[1], partner_a.pk, 7),
                EarnRequest(members[0], partner_a.pk, 30, idempotency=key),
                EarnRequest(members[1], partner_a.pk, 8),
            ]
        )

    outcomes = run_threads(2, lambda i: rival(i) if i == 0 else batch(i))

    assert [o.error for o in outcomes] == [None, None]
    winner: Posting = outcomes[0].value
    result: list[Posting] = outcomes[1].value
    assert fallbacks == [3]
    assert result[1] == winner
    assert result[1].replayed
    assert [p.balance_after for p in (result[0], result[2])] == [7, 15]
    assert selectors.balance(members[0]) == 30
    assert selectors.balance(members[1]) == 15
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM public.ledger_transaction
             WHERE idempotency_scope = %s AND idempotency_key = %s
            """,
            [key.scope, key.key],
        )
        assert cursor.fetchone()[0] == 1
    for member in members:
        stored, entries, in_lots = wallet_state(member)
        assert stored == entries == in_lots
