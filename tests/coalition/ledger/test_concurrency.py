"""The ledger under real concurrency: many threads, each with its own PostgreSQL
connection, on committed data (``live_db``).

- a mixed workload (earn, burn, hold authorise / capture / void, transfer) on a
  few hot members loses no update, never goes negative, keeps every transaction
  and the whole journal balanced, and never lets a deadlock or serialization
  failure reach a caller;
- one request fired by many callers at once posts exactly once and every caller
  gets the same answer;
- one key raced with two different payloads posts exactly one of them.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection

from coalition.ledger import chain, selectors, services
from coalition.ledger.errors import HoldAlreadyResolved, IdempotencyKeyReused, InsufficientPoints
from coalition.ledger.services import Posting
from coalition.ledger.verification import verify
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tests.testkit import assert_on_test_database
from tests.testkit.concurrency import books_report, run_threads, unique_member, wallet_state

THREADS = 16
MEMBERS = 5
DURATION_S = 4.5
MAX_OPS_PER_THREAD = 400
SEED_POINTS = 2_000
RACERS = 8

# Refusals a caller may legitimately get in the mixed workload; anything else
# (above all an OperationalError: deadlock, serialization failure) is a bug.
EXPECTED_REFUSALS = (InsufficientPoints, HoldAlreadyResolved)


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


@pytest.fixture(autouse=True)
def _only_on_the_test_database(request: pytest.FixtureRequest) -> None:
    if "live_db" in request.fixturenames:
        assert_on_test_database()


@pytest.fixture(scope="module")
def partner_c(django_db_setup: Any, django_db_blocker: Any) -> Partner:
    """A third active partner, onboarded once for this module (unique slug)."""
    with django_db_blocker.unblock():
        assert_on_test_database()
        partner = partner_onboard(
            name="Gamma Fuel",
            slug=f"gamma-{uuid.uuid4().hex[:10]}",
            default_currency="EUR",
            activate=True,
        )
        connection.set_schema_to_public()
        return partner


# --- the mixed workload -----------------------------------------------------------


@dataclass
class Recorded:
    """A successful posting and what it did to each member wallet:
    {member: (delta, balance_after)}."""

    posting: Posting
    wallets: dict[int, tuple[int, int]]


@dataclass
class WorkerLog:
    postings: list[Recorded] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)
    unexpected: list[BaseException] = field(default_factory=list)
    holds: list[int] = field(default_factory=list)


class HoldPool:
    """Pending holds shared by all workers, so holds are captured or voided by
    other threads than the one that authorised them, sometimes by two at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds: list[tuple[int, int, int]] = []  # (hold id, points, member)

    def add(self, hold_id: int, points: int, member: int) -> None:
        with self._lock:
            self._holds.append((hold_id, points, member))

    def take(self, rng: random.Random, *, keep: bool) -> tuple[int, int, int] | None:
        with self._lock:
            if not self._holds:
                return None
            index = rng.randrange(len(self._holds))
            return self._holds[index] if keep else self._holds.pop(index)


def _one_operation(
    rng: random.Random, members: list[int], partners: list[int], pool: HoldPool, log: WorkerLog
) -> Recorded | None:
    member = rng.choice(members)
    partner = rng.choice(partners)
    roll = rng.random()
    if roll < 0.15:
        # Resolve a hold; one time in four leave it in the pool so that another
        # thread may race to resolve it too (it must resolve exactly once).
        taken = pool.take(rng, keep=rng.random() < 0.25)
        if taken is not None:
            hold_id, held, owner = taken
            if rng.random() < 0.6:
                points = rng.choice([None, rng.randint(1, held)])
                posting = services.hold_capture(hold_id=hold_id, points=points)
            else:
                posting = services.hold_void(hold_id=hold_id)
            released = int(posting.result["released"])
            return Recorded(posting, {owner: (released, posting.balance_after)})
    if roll < 0.45:
        points = rng.randint(1, 300)
        posting = services.earn(member_id=member, partner_id=partner, points=points)
        return Recorded(posting, {member: (points, posting.balance_after)})
    if roll < 0.65:
        points = rng.randint(1, 400)
        posting = services.burn(member_id=member, partner_id=partner, points=points)
        return Recorded(posting, {member: (-points, posting.balance_after)})
    if roll < 0.85:
        points = rng.randint(1, 300)
        posting = services.hold_authorize(member_id=member, partner_id=partner, points=points)
        hold_id = int(posting.result["hold"])
        log.holds.append(hold_id)
        pool.add(hold_id, points, member)
        return Recorded(posting, {member: (-points, posting.balance_after)})
    recipient = rng.choice([other for other in members if other != member])
    points = rng.randint(1, 250)
    posting = services.transfer(from_member_id=member, to_member_id=recipient, points=points)
    return Recorded(
        posting,
        {
            member: (-points, posting.balance_after),
            recipient: (points, int(posting.result["recipient_balance_after"])),
        },
    )


@pytest.mark.slow
def test_mixed_workload_from_16_threads_keeps_the_books(
    live_db: None, partner_a: Partner, partner_b: Partner, partner_c: Partner
) -> None:
    members = [unique_member("mixed").pk for _ in range(MEMBERS)]
    partners = [partner_a.pk, partner_b.pk, partner_c.pk]
    seeds = [
        Recorded(posting, {member: (SEED_POINTS, posting.balance_after)})
        for member in members
        for posting in [
            services.earn(member_id=member, partner_id=partner_a.pk, points=SEED_POINTS)
        ]
    ]
    pool = HoldPool()
    logs = [WorkerLog() for _ in range(THREADS)]
    seed = random.randrange(2**32)
    start = threading.Barrier(THREADS)
    deadline: list[float] = []

    def worker(index: int) -> None:
        rng = random.Random(seed + index)
        log = logs[index]
        start.wait()
        if index == 0:
            deadline.append(time.monotonic() + DURATION_S)
        while not deadline:
            time.sleep(0.001)
        for _ in range(MAX_OPS_PER_THREAD):
            if time.monotonic() >= deadline[0]:
                break
            try:
                recorded = _one_operation(rng, members, partners, pool, log)
            except EXPECTED_REFUSALS as exc:
                log.refusals[type(exc).__name__] += 1
                continue
            except Exception as exc:
                log.unexpected.append(exc)
                continue
            if recorded is not None:
                log.postings.append(recorded)

    outcomes = run_threads(THREADS, worker)
    assert [o.error for o in outcomes if o.error] == []

    unexpected = [exc for log in logs for exc in log.unexpected]
    assert unexpected == [], f"non-domain errors reached callers: {unexpected[:5]!r}"
    recorded = seeds + [item for log in logs for item in log.postings]
    refusals = sum((log.refusals for log in logs), Counter())
    kinds = Counter(item.posting.kind for item in recorded)
    # The workload really was mixed.
    assert {"earn", "burn", "hold", "transfer"} <= set(kinds), kinds
    assert kinds["capture"] + kinds["void"] > 0, kinds

    # Every posting a caller was told about is in the journal, and nothing else
    # was posted for these members.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM public.ledger_transaction WHERE member_id = ANY(%s)", [members]
        )
        posted = {int(row[0]) for row in cursor.fetchall()}
    told = [item.posting.transaction_id for item in recorded]
    assert len(told) == len(set(told))
    assert posted == set(told)

    # No lost update: per member, in ledger order, each posting's balance_after
    # is the previous one plus its own delta; the last one is what is stored, and
    # equals the sum of the wallet's entries and of the member's lots.
    per_member: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for item in recorded:
        for member, (delta, after) in item.wallets.items():
            per_member[member].append((item.posting.transaction_id, delta, after))
    for member in members:
        running = 0
        for tx_id, delta, after in sorted(per_member[member]):
            running += delta
            assert after == running, f"member {member}: transaction {tx_id} lost an update"
            assert after >= 0
        stored, entries, in_lots = wallet_state(member)
        assert stored == running == entries == in_lots, (member, stored, running, entries, in_lots)
        assert selectors.balance(member) == stored >= 0

    # Each hold resolved at most once, and exactly the resolved ones are not pending.
    holds = [hold for log in logs for hold in log.holds]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT h.id, h.status, count(t.id) FILTER (WHERE t.kind <> 'hold')
              FROM public.ledger_hold h
              JOIN public.ledger_transaction t ON t.hold_id = h.id
             WHERE h.id = ANY(%s) GROUP BY h.id
            """,
            [holds],
        )
        rows = cursor.fetchall()
    assert len(rows) == len(holds) > 0
    for hold_id, status, resolutions in rows:
        assert resolutions == (0 if status == "pending" else 1), (hold_id, status)

    books = books_report()
    assert books.unbalanced_transactions == []
    assert books.grand_total == 0
    assert books.negative_wallets == 0
    assert books.wallets_off_entries == []
    assert books.wallets_off_lots == []
    assert books.holds_account_balance == books.pending_hold_points

    chain.seal_all()
    report = verify()
    assert report.ok, report.problems
    print(
        f"\nmixed workload: { {str(k): n for k, n in kinds.items()} }, refusals: {dict(refusals)}"
    )


# --- one request, many callers at once ----------------------------------------------


def _seeded_member(partner: Partner, points: int = 1_000) -> int:
    member = unique_member("race").pk
    services.earn(member_id=member, partner_id=partner.pk, points=points)
    return member


def _operation(
    name: str, partner: Partner, sender: int, recipient: int
) -> Callable[[IdempotencyKey, int], Posting]:
    """The operation under test, with the points as the only varying payload."""

    def run(key: IdempotencyKey, points: int) -> Posting:
        if name == "earn":
            return services.earn(
                member_id=sender, partner_id=partner.pk, points=points, idempotency=key
            )
        if name == "burn":
            return services.burn(
                member_id=sender, partner_id=partner.pk, points=points, idempotency=key
            )
        if name == "hold_authorize":
            return services.hold_authorize(
                member_id=sender, partner_id=partner.pk, points=points, idempotency=key
            )
        assert name == "transfer"
        return services.transfer(
            from_member_id=sender, to_member_id=recipient, points=points, idempotency=key
        )

    return run


SIGN = {"earn": +1, "burn": -1, "hold_authorize": -1, "transfer": -1}


def _transactions_with_key(key: IdempotencyKey) -> list[tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, points FROM public.ledger_transaction
             WHERE idempotency_scope = %s AND idempotency_key = %s
            """,
            [key.scope, key.key],
        )
        return [(int(a), int(b)) for a, b in cursor.fetchall()]


def _hold_count(member: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.ledger_hold WHERE member_id = %s", [member])
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize("name", ["earn", "burn", "hold_authorize", "transfer"])
def test_same_request_from_8_threads_at_once_posts_exactly_once(
    live_db: None, partner_b: Partner, name: str
) -> None:
    sender, recipient = _seeded_member(partner_b), _seeded_member(partner_b)
    run = _operation(name, partner_b, sender, recipient)
    for round_number in range(3):
        key = IdempotencyKey(f"partner:race-{uuid.uuid4().hex[:8]}", f"{name}-{round_number}")
        before = (selectors.balance(sender), selectors.balance(recipient))
        outcomes = run_threads(
            RACERS, lambda _i, key=key: run(key, 70), barrier=threading.Barrier(RACERS)
        )

        assert [o.error for o in outcomes if o.error] == []
        postings: list[Posting] = [o.value for o in outcomes]
        assert all(posting == postings[0] for posting in postings), postings
        assert sum(not posting.replayed for posting in postings) == 1
        assert _transactions_with_key(key) == [(postings[0].transaction_id, 70)]
        after = (selectors.balance(sender), selectors.balance(recipient))
        assert after[0] == before[0] + SIGN[name] * 70 == postings[0].balance_after
        assert after[1] == before[1] + (70 if name == "transfer" else 0)
        if name == "hold_authorize":
            assert _hold_count(sender) == round_number + 1
        # a later single repeat still replays the same result
        assert run(key, 70) == postings[0]
    for member in (sender, recipient):
        stored, entries, in_lots = wallet_state(member)
        assert stored == entries == in_lots


@pytest.mark.parametrize("name", ["earn", "burn", "hold_authorize", "transfer"])
def test_same_key_raced_with_two_payloads_posts_one_of_them(
    live_db: None, partner_b: Partner, name: str
) -> None:
    sender, recipient = _seeded_member(partner_b), _seeded_member(partner_b)
    run = _operation(name, partner_b, sender, recipient)
    key = IdempotencyKey(f"partner:race-{uuid.uuid4().hex[:8]}", f"{name}-mixed")
    before = (selectors.balance(sender), selectors.balance(recipient))
    amounts = [10 if index % 2 == 0 else 20 for index in range(RACERS)]

    outcomes = run_threads(
        RACERS, lambda index: run(key, amounts[index]), barrier=threading.Barrier(RACERS)
    )

    posted = _transactions_with_key(key)
    assert len(posted) == 1
    winner_id, winner_points = posted[0]
    winners = [o for o in outcomes if amounts[o.index] == winner_points]
    losers = [o for o in outcomes if amounts[o.index] != winner_points]
    assert len(winners) == len(losers) == RACERS // 2
    for outcome in winners:
        assert outcome.error is None, outcome.error
        assert outcome.value.transaction_id == winner_id
        assert outcome.value == winners[0].value
    assert sum(not o.value.replayed for o in winners) == 1
    for outcome in losers:
        assert isinstance(outcome.error, IdempotencyKeyReused), outcome.error
        assert isinstance(outcome.error, DomainError)
    after = (selectors.balance(sender), selectors.balance(recipient))
    assert after[0] == before[0] + SIGN[name] * winner_points
    assert after[1] == before[1] + (winner_points if name == "transfer" else 0)
    if name == "hold_authorize":
        assert _hold_count(sender) == 1
