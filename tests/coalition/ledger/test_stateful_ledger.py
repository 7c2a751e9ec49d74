"""The ledger against a model, step by step (Hypothesis stateful testing).

A Python model keeps what the books must say: every member's balance, every lot
(issuer's points with an expiry, consumed soonest-expiry first), every hold and
every reversible transaction. Random programs enrol, earn (with an expiry on a
simulated clock; one already past is refused), burn, adjust (a partner's credit
issued like an earn, or debit taken only from the lots it issued), give coalition
goodwill (a lot with no issuer, balanced on the coalition's goodwill account),
authorise / capture / void / expire holds (a suspended partner cannot capture),
reverse (wholly, in part, with or without shortfall), transfer, expire lots, block
members, suspend a partner and retry earlier requests with the same idempotency
key (same payload: the same Posting and not one row more; another payload:
IdempotencyKeyReused and not one row more). The model predicts each outcome,
typed refusals included; a refusal must change nothing.

After every step the invariants are checked with SQL: each transaction and the
whole journal sum to zero, no wallet is negative, each wallet equals its entries
and its lots, each lot equals its points plus its movements, each hold resolves
at most once, and the model agrees with the database (balances, lots, holds and
the partner / coalition accounts).

Each example runs in a savepoint of the test transaction, rolled back at its
end, with every constraint IMMEDIATE so the balance trigger checks each statement.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from coalition.ledger import services
from coalition.ledger.errors import (
    CaptureExceedsHold,
    HoldAlreadyResolved,
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidExpiry,
    PartnerNotActive,
    ReversalExceedsOriginal,
    TransferToSelf,
    WrongPartner,
)
from coalition.ledger.services import Posting
from coalition.members.errors import MemberNotActive
from coalition.members.services import member_enrol, member_set_status
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner
from tenants.partners.services import partner_change_status
from tests.testkit.ledger import (
    derived_movements,
    fetchall,
    invariant_violations,
    ledger_state,
    max_transaction_id,
)

MAX_MEMBERS = 4
# 200 in CI; LEDGER_STATEFUL_EXAMPLES=20 for a quick run while developing
EXAMPLES = int(os.environ.get("LEDGER_STATEFUL_EXAMPLES", "200"))
STEPS = 20
NO_EXPIRY = datetime.max.replace(tzinfo=UTC)
POINTS = st.one_of(st.integers(1, 120), st.integers(1, 600))
# Relative to the simulated clock; -1 must be refused (a lot is never born expired).
EXPIRY_DAYS = st.sampled_from([None, None, -1, 1, 3, 30])


def rarest_first(names: Iterable[str]) -> list[str]:
    """Distinct names, the rarest first: Hypothesis draws the first elements of
    ``sampled_from`` most often, so rare kinds get their share."""
    counts = Counter(names)
    return sorted(counts, key=lambda name: (counts[name], name))


# --- the model ----------------------------------------------------------------------


@dataclass
class MLot:
    id: int
    member: int
    expires_at: datetime | None
    points: int
    remaining: int
    issuer: int = 0  # 0: no issuer (coalition goodwill); partner ids are positive

    def spend_order(self) -> tuple[bool, datetime, int]:
        # soonest expiry first, no expiry last; then by id (inside one database
        # transaction every lot has the same earned_at)
        return (self.expires_at is None, self.expires_at or NO_EXPIRY, self.id)


@dataclass
class MHold:
    id: int
    member: int
    partner: int
    points: int
    expires_at: datetime
    consumed: list[list[int]]  # [lot, points], in consumption order
    status: str = "pending"
    captured: int = 0


@dataclass
class MTx:
    id: int
    kind: str  # earn, burn, transfer
    member: int
    partner: int | None
    points: int
    recipient: int | None = None
    reversed: int = 0  # points requested by its reversals so far
    consumed: list[list[int]] = field(default_factory=list)  # sender's lots taken
    created_lots: list[int] = field(default_factory=list)  # lots it credited


@dataclass
class Request:
    """A successful request sent with an idempotency key, for retries."""

    operation: Callable[..., Posting]
    kwargs: dict[str, Any]
    posting: Posting


# --- the machine --------------------------------------------------------------------


class LedgerMachine(RuleBasedStateMachine):
    partner_ids: ClassVar[tuple[int, int]] = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        services.forget_known_accounts()
        self.start_tx = max_transaction_id()
        self.run_id = uuid.uuid4().hex[:12]
        self.scope = f"stateful:{self.run_id}"
        self.keys = 0
        self.clock = timezone.now()
        self.members: list[int] = []
        self.active: dict[int, bool] = {}
        self.partner_active = dict.fromkeys(self.partner_ids, True)
        self.balances: dict[int, int] = {}
        self.lots: dict[int, MLot] = {}
        self.holds: dict[int, MHold] = {}
        self.txs: dict[int, MTx] = {}
        self.requests: list[Request] = []
        # expected net movement of the partner / coalition accounts
        self.derived: dict[str, int] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        services.forget_known_accounts()

    # --- helpers ------------------------------------------------------------------

    def _key(self, use: bool) -> IdempotencyKey | None:
        if not use:
            return None
        self.keys += 1
        return IdempotencyKey(self.scope, f"request-{self.keys}")

    def _post(self, name: str, amount: int) -> None:
        self.derived[name] = self.derived.get(name, 0) + amount
        if self.derived[name] == 0:
            del self.derived[name]

    def _call(
        self,
        operation: Callable[..., Posting],
        kwargs: dict[str, Any],
        expected: type[Exception] | None,
    ) -> Posting | None:
        """Call; when the model expects a refusal, check it and that nothing changed."""
        event(f"{operation.__name__}: {expected.__name__ if expected else 'posted'}")
        if expected is None:
            posting = operation(**kwargs)
            assert not posting.replayed
            if kwargs.get("idempotency") is not None:
                self.requests.append(Request(operation, kwargs, posting))
            return posting
        before = ledger_state(self.members)
        with pytest.raises(expected):
            operation(**kwargs)
        assert ledger_state(self.members) == before
        return None

    def _spendable(self, member: int) -> list[MLot]:
        lots = [lot for lot in self.lots.values() if lot.member == member and lot.remaining > 0]
        return sorted(lots, key=MLot.spend_order)

    def _consume(self, member: int, points: int) -> list[list[int]]:
        plan, needed = [], points
        for lot in self._spendable(member):
            if needed == 0:
                break
            take = min(needed, lot.remaining)
            lot.remaining -= take
            plan.append([lot.id, take])
            needed -= take
        assert needed == 0, "model: balance and lots disagree"
        self.balances[member] -= points
        return plan

    def _restore(self, consumed: list[list[int]], points: int) -> None:
        """Give points back, newest consumption first (the ledger's order)."""
        while points:
            lot_id, net = consumed[-1]
            give = min(points, net)
            self.lots[lot_id].remaining += give
            points -= give
            if give == net:
                consumed.pop()
            else:
                consumed[-1][1] = net - give

    def _pick(self, data: st.DataObject, items: list[Any]) -> Any:
        return data.draw(st.sampled_from(items))

    def _amount(self, data: st.DataObject, member: int) -> int:
        """Points to spend: often within the balance (often all of it, so that
        several lots are consumed), sometimes any amount."""
        within = st.integers(1, max(1, self.balances[member]))
        return data.draw(st.one_of(within, POINTS))

    # --- rules --------------------------------------------------------------------

    @initialize(data=st.data())
    def two_members_with_some_lots(self, data: st.DataObject) -> None:
        self.enrol()
        self.enrol()
        for member in self.members:
            for _ in range(data.draw(st.integers(0, 3))):
                self._earn(
                    member,
                    self._pick(data, list(self.partner_ids)),
                    data.draw(st.integers(1, 300)),
                    data.draw(EXPIRY_DAYS),
                    use_key=False,
                )

    @precondition(lambda self: len(self.members) < MAX_MEMBERS)
    @rule()
    def enrol(self) -> None:
        member = member_enrol(email=f"sm-{self.run_id}-{len(self.members)}@example.com").pk
        self.members.append(member)
        self.active[member] = True
        self.balances[member] = 0

    @rule(data=st.data(), member_side=st.booleans())
    def block_a_member_or_suspend_a_partner(self, data: st.DataObject, member_side: bool) -> None:
        # (or undo it)
        if member_side:
            member = self._pick(data, self.members)
            status = "active" if not self.active[member] else "blocked"
            member_set_status(member_id=member, status=status)
            self.active[member] = status == "active"
        else:
            partner_id = self._pick(data, list(self.partner_ids))
            status = "suspended" if self.partner_active[partner_id] else "active"
            partner_change_status(partner=Partner.objects.get(pk=partner_id), to_status=status)
            self.partner_active[partner_id] = status == "active"

    @rule(
        data=st.data(), points=st.integers(1, 300), expiry_days=EXPIRY_DAYS, use_key=st.booleans()
    )
    def earn(
        self, data: st.DataObject, points: int, expiry_days: int | None, use_key: bool
    ) -> None:
        member, partner = self._pick(data, self.members), self._pick(data, list(self.partner_ids))
        self._earn(member, partner, points, expiry_days, use_key)

    def _earn(
        self, member: int, partner: int, points: int, expiry_days: int | None, use_key: bool
    ) -> None:
        expires_at = None if expiry_days is None else self.clock + timedelta(days=expiry_days)
        kwargs = {
            "member_id": member,
            "partner_id": partner,
            "points": points,
            "expires_at": expires_at,
            "idempotency": self._key(use_key),
            "now": self.clock,
        }
        expected: type[Exception] | None = None
        if expires_at is not None and expires_at <= self.clock:
            expected = InvalidExpiry  # a lot is never born expired
        elif not self.active[member]:
            expected = MemberNotActive
        elif not self.partner_active[partner]:
            expected = PartnerNotActive
        posting = self._call(services.earn, kwargs, expected)
        if posting is None:
            return
        self.balances[member] += points
        lot_id = int(posting.result["lot"])
        assert posting.result == {"balance_after": self.balances[member], "lot": lot_id}
        self.lots[lot_id] = MLot(lot_id, member, expires_at, points, points, partner)
        self.txs[posting.transaction_id] = MTx(
            posting.transaction_id, "earn", member, partner, points, created_lots=[lot_id]
        )
        self._post(f"issuance:{partner}", -points)

    def _spend_refusal(self, member: int, partner: int, points: int) -> type[Exception] | None:
        if not self.active[member]:
            return MemberNotActive
        if not self.partner_active[partner]:
            return PartnerNotActive
        if self.balances[member] < points:
            return InsufficientPoints
        return None

    @rule(data=st.data(), use_key=st.booleans())
    def burn(self, data: st.DataObject, use_key: bool) -> None:
        member, partner = self._pick(data, self.members), self._pick(data, list(self.partner_ids))
        points = self._amount(data, member)
        kwargs = {
            "member_id": member,
            "partner_id": partner,
            "points": points,
            "idempotency": self._key(use_key),
        }
        posting = self._call(services.burn, kwargs, self._spend_refusal(member, partner, points))
        if posting is None:
            return
        plan = self._consume(member, points)
        assert [(c["lot"], c["points"]) for c in posting.result["consumed"]] == [
            (lot, taken) for lot, taken in plan
        ]
        assert posting.balance_after == self.balances[member]
        self.txs[posting.transaction_id] = MTx(
            posting.transaction_id, "burn", member, partner, points, consumed=plan
        )
        self._post(f"redemption:{partner}", points)

    @rule(
        data=st.data(),
        expiry_minutes=st.sampled_from([None, None, 5, 90, 60 * 24 * 2]),
        use_key=st.booleans(),
    )
    def hold_authorize(
        self, data: st.DataObject, expiry_minutes: int | None, use_key: bool
    ) -> None:
        member, partner = self._pick(data, self.members), self._pick(data, list(self.partner_ids))
        points = self._amount(data, member)
        kwargs: dict[str, Any] = {
            "member_id": member,
            "partner_id": partner,
            "points": points,
            "idempotency": self._key(use_key),
        }
        if expiry_minutes is not None:  # else the service's default (15 minutes)
            kwargs["expires_at"] = timezone.now() + timedelta(minutes=expiry_minutes)
        posting = self._call(
            services.hold_authorize, kwargs, self._spend_refusal(member, partner, points)
        )
        if posting is None:
            return
        hold_id = int(posting.result["hold"])
        expires_at = datetime.fromisoformat(posting.result["expires_at"])
        if expiry_minutes is not None:
            assert expires_at == kwargs["expires_at"]
        plan = self._consume(member, points)
        assert posting.balance_after == self.balances[member]
        self.holds[hold_id] = MHold(hold_id, member, partner, points, expires_at, plan)
        self._post("holds", points)

    def _resolve(self, hold: MHold, status: str, captured: int) -> None:
        hold.status, hold.captured = status, captured
        release = hold.points - captured
        self._restore(hold.consumed, release)
        self.balances[hold.member] += release
        self._post("holds", -hold.points)
        if captured:
            self._post(f"redemption:{hold.partner}", captured)

    def _hold_refusal(self, hold: MHold, partner: int | None) -> type[Exception] | None:
        if hold.status != "pending":
            return HoldAlreadyResolved
        if partner is not None and partner != hold.partner:
            return WrongPartner
        return None

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), capture=st.booleans(), use_key=st.booleans(), name_partner=st.booleans())
    def capture_or_void_a_hold(
        self, data: st.DataObject, capture: bool, use_key: bool, name_partner: bool
    ) -> None:
        pending = sorted(hold.id for hold in self.holds.values() if hold.status == "pending")
        resolved_too = not pending or data.draw(st.integers(0, 4)) == 0
        hold = self.holds[self._pick(data, sorted(self.holds) if resolved_too else pending)]
        partner = self._pick(data, list(self.partner_ids)) if name_partner else None
        expected = self._hold_refusal(hold, partner)
        if capture:
            points = data.draw(st.one_of(st.none(), st.integers(1, hold.points + 20)))
            kwargs = {
                "hold_id": hold.id,
                "points": points,
                "partner_id": partner,
                "idempotency": self._key(use_key),
            }
            captured = hold.points if points is None else points
            if expected is None and not self.partner_active[hold.partner]:
                expected = PartnerNotActive  # void and expiry still give the points back
            if expected is None and captured > hold.points:
                expected = CaptureExceedsHold
            posting = self._call(services.hold_capture, kwargs, expected)
        else:
            captured = 0
            kwargs = {"hold_id": hold.id, "partner_id": partner, "idempotency": self._key(use_key)}
            posting = self._call(services.hold_void, kwargs, expected)
        if posting is None:
            return
        self._resolve(hold, "captured" if capture else "voided", captured)
        assert posting.result == {
            "hold": hold.id,
            "captured": captured,
            "released": hold.points - captured,
            "balance_after": self.balances[hold.member],
        }

    @rule(
        minutes=st.sampled_from([0, 10, 60 * 24, 60 * 24 * 3, 60 * 24 * 40]),
        sweep_holds=st.booleans(),
        sweep_lots=st.booleans(),
    )
    def time_passes(self, minutes: int, sweep_holds: bool, sweep_lots: bool) -> None:
        # the simulated clock moves on (never behind the real one), then the
        # sweepers for expired holds and / or expired lots run at that time
        self.clock = max(self.clock, timezone.now()) + timedelta(minutes=minutes)
        if sweep_holds:
            while services.holds_expire(now=self.clock):
                pass
            for hold in self.holds.values():
                if hold.status == "pending" and hold.expires_at <= self.clock:
                    self._resolve(hold, "expired", 0)
        if sweep_lots:
            while services.lots_expire(now=self.clock):
                pass
            for lot in self.lots.values():
                if lot.remaining and lot.expires_at is not None and lot.expires_at <= self.clock:
                    self.balances[lot.member] -= lot.remaining
                    self._post("breakage", lot.remaining)
                    lot.remaining = 0

    @precondition(lambda self: self.txs)
    @rule(data=st.data(), how=st.sampled_from(["in parts", "rest", "any amount"]))
    def reverse(self, data: st.DataObject, how: str) -> None:
        # a refund, or a return in several parts (each its own reversal). Mostly of
        # a transaction with points left to reverse; its kind is drawn first, so
        # transfers and burns are reversed as often as earns.
        txs = list(self.txs.values())
        if data.draw(st.integers(0, 4)):
            txs = [tx for tx in txs if tx.reversed < tx.points] or txs
        kind = self._pick(data, rarest_first(tx.kind for tx in txs))
        tx = self.txs[self._pick(data, sorted(t.id for t in txs if t.kind == kind))]
        left = tx.points - tx.reversed
        amounts: list[int | None]
        if how == "in parts" and left >= 2:
            # what is left, cut into two or three returns
            cuts = sorted(
                set(data.draw(st.lists(st.integers(1, left - 1), min_size=1, max_size=2)))
            )
            amounts = [b - a for a, b in zip([0, *cuts], [*cuts, left], strict=True)]
        elif how == "rest":
            amounts = [None]
        else:  # up to beyond the original
            amounts = [data.draw(st.integers(1, tx.points + 10))]
        for points in amounts:
            self._reverse(tx, points, data.draw(st.booleans()), data.draw(st.booleans()))

    def _reverse(self, tx: MTx, points: int | None, shortfall: bool, use_key: bool) -> None:
        kwargs = {
            "transaction_id": tx.id,
            "points": points,
            "allow_shortfall": shortfall,
            "idempotency": self._key(use_key),
        }
        left = tx.points - tx.reversed
        requested = left if points is None else points
        if requested <= 0 or requested > left:
            self._call(services.reverse, kwargs, ReversalExceedsOriginal)
            return
        if tx.kind == "burn":
            posting = self._call(services.reverse, kwargs, None)
            assert posting is not None
            self._restore(tx.consumed, requested)
            self.balances[tx.member] += requested
            self._post(f"redemption:{tx.partner}", -requested)
            taken, holder_balance = requested, self.balances[tx.member]
        else:
            available = sum(self.lots[lot].remaining for lot in tx.created_lots)
            taken = min(requested, available)
            if taken < requested and not shortfall:
                self._call(services.reverse, kwargs, InsufficientPoints)
                return
            posting = self._call(services.reverse, kwargs, None)
            assert posting is not None
            holder = tx.recipient if tx.kind == "transfer" else tx.member
            assert holder is not None
            left_to_take = taken
            for lot_id in tx.created_lots:  # in id order
                lot = self.lots[lot_id]
                take = min(left_to_take, lot.remaining)
                lot.remaining -= take
                left_to_take -= take
            self.balances[holder] -= taken
            holder_balance = self.balances[holder]
            if tx.kind == "transfer":
                self._restore(tx.consumed, taken)
                self.balances[tx.member] += taken
            else:
                self._post(f"issuance:{tx.partner}", taken)
        tx.reversed += requested
        assert posting.points == requested
        assert posting.result == {
            "reversed": taken,
            "shortfall": requested - taken,
            "balance_after": holder_balance,
        }

    @rule(data=st.data(), use_key=st.booleans(), to_self=st.integers(0, 9))
    def transfer(self, data: st.DataObject, use_key: bool, to_self: int) -> None:
        sender = self._pick(data, self.members)
        points = self._amount(data, sender)
        others = [member for member in self.members if member != sender]
        recipient = sender if to_self == 0 else self._pick(data, others)
        kwargs = {
            "from_member_id": sender,
            "to_member_id": recipient,
            "points": points,
            "idempotency": self._key(use_key),
        }
        expected: type[Exception] | None = None
        if sender == recipient:
            expected = TransferToSelf
        elif not (self.active[sender] and self.active[recipient]):
            expected = MemberNotActive
        elif self.balances[sender] < points:
            expected = InsufficientPoints
        posting = self._call(services.transfer, kwargs, expected)
        if posting is None:
            return
        plan = self._consume(sender, points)
        self.balances[recipient] += points
        assert posting.result == {
            "balance_after": self.balances[sender],
            "to_member": recipient,
            "recipient_balance_after": self.balances[recipient],
        }
        # the recipient's new lots keep the issuer and expiry of the lots they came from
        created = fetchall(
            """
            SELECT id, source_lot_id, points, remaining, expires_at FROM public.ledger_lot
             WHERE transaction_id = %s ORDER BY id
            """,
            [posting.transaction_id],
        )
        assert sorted((int(row[1]), int(row[2])) for row in created) == sorted(
            (lot, taken) for lot, taken in plan
        )
        for lot_id, source, lot_points, remaining, expires_at in created:
            assert remaining == lot_points
            assert expires_at == self.lots[source].expires_at
            issuer = self.lots[source].issuer
            self.lots[lot_id] = MLot(lot_id, recipient, expires_at, lot_points, lot_points, issuer)
        self.txs[posting.transaction_id] = MTx(
            posting.transaction_id,
            "transfer",
            sender,
            None,
            points,
            recipient=recipient,
            consumed=plan,
            created_lots=[int(row[0]) for row in created],
        )

    @rule(
        data=st.data(),
        points=st.integers(1, 300),
        credit=st.booleans(),
        expiry_days=EXPIRY_DAYS,
        use_key=st.booleans(),
    )
    def adjust(
        self,
        data: st.DataObject,
        points: int,
        credit: bool,
        expiry_days: int | None,
        use_key: bool,
    ) -> None:
        """A partner's adjustment: a credit is issued like an earn (a lot of its
        own); a debit takes points back only from lots the partner issued, soonest
        expiry first, never another partner's and never below zero."""
        member, partner = self._pick(data, self.members), self._pick(data, list(self.partner_ids))
        theirs = [lot for lot in self._spendable(member) if lot.issuer == partner]
        if not credit:
            # often within what the partner issued (all a debit may take), sometimes any amount
            within = st.integers(1, max(1, sum(lot.remaining for lot in theirs)))
            points = data.draw(st.one_of(within, POINTS))
        expires_at = None
        if credit and expiry_days is not None:
            expires_at = self.clock + timedelta(days=expiry_days)
        kwargs = {
            "member_id": member,
            "partner_id": partner,
            "points": points if credit else -points,
            "expires_at": expires_at,
            "idempotency": self._key(use_key),
            "memo": "goodwill" if credit else "correction",
            "now": self.clock,
        }
        expected: type[Exception] | None = None
        if credit:
            if expires_at is not None and expires_at <= self.clock:
                expected = InvalidExpiry
            elif not self.active[member]:
                expected = MemberNotActive
            elif not self.partner_active[partner]:
                expected = PartnerNotActive
        else:
            expected = self._spend_refusal(member, partner, points)
            if expected is None and sum(lot.remaining for lot in theirs) < points:
                expected = InsufficientPoints  # another partner's lots are never taken
        posting = self._call(services.adjust, kwargs, expected)
        if posting is None:
            return
        if credit:
            self.balances[member] += points
            lot_id = int(posting.result["lot"])
            assert posting.result == {"balance_after": self.balances[member], "lot": lot_id}
            self.lots[lot_id] = MLot(lot_id, member, expires_at, points, points, partner)
            self._post(f"issuance:{partner}", -points)
            return
        plan, needed = [], points
        for lot in theirs:
            if needed == 0:
                break
            take = min(needed, lot.remaining)
            lot.remaining -= take
            plan.append((lot.id, take))
            needed -= take
        self.balances[member] -= points
        assert [(c["lot"], c["points"]) for c in posting.result["consumed"]] == plan
        assert posting.balance_after == self.balances[member]
        self._post(f"issuance:{partner}", points)

    @rule(
        data=st.data(), points=st.integers(1, 300), expiry_days=EXPIRY_DAYS, use_key=st.booleans()
    )
    def goodwill(
        self, data: st.DataObject, points: int, expiry_days: int | None, use_key: bool
    ) -> None:
        """Coalition goodwill: a lot no partner issued, ``goodwill -N, wallet +N``;
        spent, transferred and expired like any lot, never taken by a partner's debit."""
        member = self._pick(data, self.members)
        expires_at = None if expiry_days is None else self.clock + timedelta(days=expiry_days)
        kwargs = {
            "member_id": member,
            "points": points,
            "expires_at": expires_at,
            "idempotency": self._key(use_key),
            "memo": "goodwill",
            "now": self.clock,
        }
        expected: type[Exception] | None = None
        if expires_at is not None and expires_at <= self.clock:
            expected = InvalidExpiry
        elif not self.active[member]:
            expected = MemberNotActive
        posting = self._call(services.goodwill_credit, kwargs, expected)
        if posting is None:
            return
        self.balances[member] += points
        lot_id = int(posting.result["lot"])
        assert posting.result == {"balance_after": self.balances[member], "lot": lot_id}
        self.lots[lot_id] = MLot(lot_id, member, expires_at, points, points)
        self._post("goodwill", -points)

    @precondition(lambda self: self.requests)
    @rule(data=st.data(), same_payload=st.booleans(), other_operation=st.booleans())
    def retry_a_request(
        self, data: st.DataObject, same_payload: bool, other_operation: bool
    ) -> None:
        # the operation is drawn first, so rarer ones are retried as often as earns
        operation_name = self._pick(data, rarest_first(r.operation.__name__ for r in self.requests))
        request = self._pick(
            data, [r for r in self.requests if r.operation.__name__ == operation_name]
        )
        if same_payload:
            # same key, same payload: the same answer, and not one row more
            event(f"retry: {request.operation.__name__}")
            before = ledger_state(self.members)
            replay = request.operation(**request.kwargs)
            assert replay == request.posting
            assert replay.replayed
            assert ledger_state(self.members) == before
            return
        # same key, another payload (or another operation): refused, nothing posted
        key = request.kwargs["idempotency"]
        operation, kwargs = request.operation, dict(request.kwargs)
        if other_operation or operation is services.hold_void:
            operation = services.earn
            kwargs = {
                "member_id": self.members[0],
                "partner_id": self.partner_ids[0],
                "points": 1,
                "idempotency": key,
            }
            if request.operation is services.earn:
                kwargs["points"] = request.kwargs["points"] + 1
        elif operation is services.reverse:
            kwargs["allow_shortfall"] = not kwargs["allow_shortfall"]
        elif operation is services.adjust and kwargs["points"] < 0:
            kwargs["points"] -= 1  # still a debit (a 0 would be refused before the key)
        else:
            kwargs["points"] = (kwargs["points"] or 0) + 1
        self._call(operation, kwargs, IdempotencyKeyReused)

    # --- invariants -----------------------------------------------------------------

    @invariant()
    def books_hold_and_match_the_model(self) -> None:
        assert invariant_violations(self.members, since_transaction=self.start_tx) == []
        state = ledger_state(self.members)
        assert state.balances == self.balances
        assert dict(state.lots) == {lot.id: lot.remaining for lot in self.lots.values()}
        assert {hold: (status, captured) for hold, status, captured in state.holds} == {
            hold.id: (hold.status, hold.captured) for hold in self.holds.values()
        }
        assert derived_movements(self.members, since_transaction=self.start_tx) == self.derived


# --- the test -----------------------------------------------------------------------


def test_the_ledger_agrees_with_its_model_under_random_programs(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given two active partners and a model of the books, when Hypothesis runs
    # random programs of ledger operations (each example in a savepoint that is
    # rolled back), then every outcome is the predicted one and the invariants
    # hold after every step
    LedgerMachine.partner_ids = (partner_a.pk, partner_b.pk)
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
            ],
        ),
    )
