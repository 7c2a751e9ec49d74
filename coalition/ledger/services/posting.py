"""The posting core every ledger operation is built from.

- ``Posting``: what an operation posted (a replay returns an equal one);
- wallet locks, always in account-id order (no deadlocks);
- idempotent execution: replay a known request, else post it in its own short
  transaction, retried on deadlocks (see ``retry``); a lost race on the key
  becomes a replay of the winner's result;
- the journal header (inserted first, so a concurrent repeat of the same key
  fails fast on the unique constraint), balanced entries (the database refuses
  unbalanced ones at commit) and stored wallet balances; hot partner and
  coalition accounts get entries only, never a row update;
- lots: which ones a spend consumes (soonest expiry first), every move
  recorded, and which ones to give points back to.

Every statement names its schema (``public.``): it runs on the driver connection
(see ``loyalty_kernel.driver_sql``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction

from coalition.ledger.errors import (
    AmountNotPositive,
    IdempotencyKeyReused,
    InsufficientPoints,
    LedgerInconsistent,
)
from coalition.ledger.services.retry import retrying
from coalition.members.errors import MemberNotActive, UnknownMember
from coalition.members.models import MemberStatus
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey, request_hash

IDEMPOTENCY_CONSTRAINT = "ledger_idempotency"

# (lot id, points taken, issuer partner id or None for coalition goodwill), in the
# order a spend takes them.
LotTake = tuple[int, int, int | None]


@dataclass(frozen=True)
class Posting:
    """What an operation posted; a replay returns an equal Posting."""

    transaction_id: int
    kind: str
    points: int
    result: dict[str, Any]
    replayed: bool = field(default=False, compare=False)

    @property
    def balance_after(self) -> int:
        return int(self.result["balance_after"])


@dataclass(frozen=True)
class Wallet:
    account_id: int
    member_id: int
    balance: int
    status: str


# --- small helpers ----------------------------------------------------------------


def to_json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def as_dict(value: Any) -> dict[str, Any]:
    # Django's psycopg setup hands jsonb to raw cursors as text.
    return dict(json.loads(value) if isinstance(value, str) else value)


def require_positive(points: int, name: str = "points") -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise AmountNotPositive(f"{name} must be a positive whole number, got {points!r}")


def one_row(sql: str, params: Sequence[Any] | dict[str, Any], what: str) -> tuple[Any, ...]:
    """The row a statement always returns (an INSERT ... RETURNING, an aggregate,
    a row the ledger's rules say exists); ``LedgerInconsistent`` if it is missing."""
    row = driver_sql.fetchone(sql, params)
    if row is None:
        raise LedgerInconsistent(f"the ledger found no {what}")
    return row


def is_idempotency_violation(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == IDEMPOTENCY_CONSTRAINT


_sequences: dict[str, str] = {}


def id_sequence(table: str) -> str:
    """The sequence behind a ledger table's id (looked up once per process)."""
    if table not in _sequences:
        row = one_row(
            "SELECT pg_get_serial_sequence(%s, 'id')", [f"public.{table}"], f"sequence of {table}"
        )
        _sequences[table] = str(row[0])
    return _sequences[table]


# --- wallets ----------------------------------------------------------------------


def lock_wallets(member_ids: Iterable[int], *, require_active: bool) -> dict[int, Wallet]:
    """Lock the wallets of these members in account-id order and return them."""
    ids = sorted(set(member_ids))
    rows = driver_sql.fetchall(
        """
        SELECT a.id, a.member_id, a.balance, m.status
          FROM public.ledger_account a JOIN public.members_member m ON m.id = a.member_id
         WHERE a.kind = 'wallet' AND a.member_id = ANY(%s)
         ORDER BY a.id
           FOR UPDATE OF a
        """,
        [ids],
    )
    wallets = {row[1]: Wallet(row[0], row[1], row[2], row[3]) for row in rows}
    for member_id in ids:
        if member_id not in wallets:
            raise UnknownMember("no such member")
        if require_active and wallets[member_id].status != MemberStatus.ACTIVE:
            raise MemberNotActive(f"the member is {wallets[member_id].status}")
    return wallets


def adjust_wallets(deltas: dict[int, int]) -> None:
    deltas = {account: delta for account, delta in deltas.items() if delta != 0}
    if not deltas:
        return
    driver_sql.execute(
        """
        UPDATE public.ledger_account a SET balance = a.balance + d.delta
          FROM unnest(%s::bigint[], %s::bigint[]) AS d(id, delta)
         WHERE a.id = d.id
        """,
        [list(deltas), list(deltas.values())],
    )


# --- idempotent execution ---------------------------------------------------------


def replay(idem: IdempotencyKey, digest: str) -> Posting | None:
    row = driver_sql.fetchone(
        """
        SELECT id, kind, points, request_hash, result FROM public.ledger_transaction
         WHERE idempotency_scope = %s AND idempotency_key = %s
        """,
        [idem.scope, idem.key],
    )
    if row is None:
        return None
    if row[3] != digest:
        raise IdempotencyKeyReused(
            f"idempotency key {idem.key!r} was used for a different request in scope {idem.scope!r}"
        )
    return Posting(int(row[0]), row[1], int(row[2]), as_dict(row[4]), replayed=True)


def replay_of_key_race(
    exc: IntegrityError, idem: IdempotencyKey | None, digest: str
) -> Posting | None:
    """After ``exc``: the result of the concurrent request that took the key
    first, or None when the violation is not the key's (the caller re-raises)."""
    if idem is not None and is_idempotency_violation(exc):
        return replay(idem, digest)
    return None


def run_idempotent(
    idem: IdempotencyKey | None,
    operation: str,
    payload: dict[str, Any],
    post: Callable[[str], Posting],
) -> Posting:
    """Replay a known request, or post it in its own short transaction.

    Deadlocks and serialization failures are retried here (the whole transaction
    is redone), so they never reach the caller; a lost race on the idempotency key
    becomes a replay of the winner's result.
    """
    digest = request_hash(operation, payload)
    if idem is not None:
        existing = replay(idem, digest)
        if existing is not None:
            return existing

    def attempt() -> Posting:
        try:
            with transaction.atomic():
                return post(digest)
        except IntegrityError as exc:
            winner = replay_of_key_race(exc, idem, digest)
            if winner is None:
                raise
            return winner

    return retrying(attempt, nested=connection.in_atomic_block)


# --- journal ----------------------------------------------------------------------


def insert_header(
    *,
    kind: str,
    partner_id: int | None,
    member_id: int | None,
    points: int,
    idem: IdempotencyKey | None,
    digest: str,
    result: dict[str, Any],
    external_ref: str = "",
    memo: str = "",
    reverses_id: int | None = None,
    hold_id: int | None = None,
) -> tuple[int, datetime]:
    row = one_row(
        """
        INSERT INTO public.ledger_transaction
            (kind, partner_id, member_id, points, external_ref, memo, reverses_id, hold_id,
             idempotency_scope, idempotency_key, request_hash, result, created_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, now())
        RETURNING id, created_at
        """,
        [
            kind,
            partner_id,
            member_id,
            points,
            external_ref,
            memo,
            reverses_id,
            hold_id,
            idem.scope if idem else None,
            idem.key if idem else None,
            digest,
            to_json(result),
        ],
        "journal header after inserting it",
    )
    return int(row[0]), row[1]


def insert_entries(transaction_id: int, legs: Sequence[tuple[int, int]]) -> None:
    legs = [(account, amount) for account, amount in legs if amount != 0]
    if not legs:
        return
    driver_sql.execute(
        """
        INSERT INTO public.ledger_entry (transaction_id, account_id, amount)
        SELECT %s, account, amount FROM unnest(%s::bigint[], %s::bigint[]) AS t(account, amount)
        """,
        [transaction_id, [leg[0] for leg in legs], [leg[1] for leg in legs]],
    )


def credit_with_new_lot(
    *,
    kind: str,
    wallet: Wallet,
    source_account: int,
    issuer_id: int | None,
    partner_id: int | None,
    points: int,
    expires_at: Any,
    idem: IdempotencyKey | None,
    digest: str,
    memo: str,
) -> Posting:
    """Post ``source -N, wallet +N`` as one ``kind`` transaction, the points in a new
    lot issued by ``issuer_id`` (None: the coalition paid) expiring at ``expires_at``:
    how a partner's credit adjustment and coalition goodwill add points. The caller
    holds the wallet's lock."""
    lot_id = int(one_row("SELECT nextval(%s::regclass)", [id_sequence("ledger_lot")],
                         "next lot id")[0])  # fmt: skip
    result: dict[str, Any] = {"balance_after": wallet.balance + points, "lot": lot_id}
    tx_id, created_at = insert_header(
        kind=kind, partner_id=partner_id, member_id=wallet.member_id, points=points,
        idem=idem, digest=digest, result=result, memo=memo,
    )  # fmt: skip
    driver_sql.execute(
        """
        INSERT INTO public.ledger_lot (id, member_id, issuer_id, transaction_id,
                                       earned_at, expires_at, points, remaining)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        """,
        [lot_id, wallet.member_id, issuer_id, tx_id, created_at, expires_at, points, points],
    )
    insert_entries(tx_id, [(wallet.account_id, points), (source_account, -points)])
    adjust_wallets({wallet.account_id: points})
    return Posting(tx_id, kind, points, result)


def reversal_ids(original_id: int) -> list[int]:
    """The transactions that reversed (part of) this one."""
    return [
        int(row[0])
        for row in driver_sql.fetchall(
            "SELECT id FROM public.ledger_transaction WHERE reverses_id = %s", [original_id]
        )
    ]


# --- lots -------------------------------------------------------------------------


def move_lots(transaction_id: int, moves: Sequence[tuple[int, int]]) -> None:
    """Apply (lot_id, signed points) to lots and record each movement."""
    moves = [(lot, points) for lot, points in moves if points != 0]
    if not moves:
        return
    lots, points = [move[0] for move in moves], [move[1] for move in moves]
    driver_sql.execute(
        """
        WITH moved AS (
            UPDATE public.ledger_lot l SET remaining = l.remaining + m.points
              FROM unnest(%s::bigint[], %s::bigint[]) AS m(lot, points)
             WHERE l.id = m.lot
        )
        INSERT INTO public.ledger_lotmovement (lot_id, transaction_id, points)
        SELECT lot, %s, points FROM unnest(%s::bigint[], %s::bigint[]) AS m(lot, points)
        """,
        [lots, points, transaction_id, lots, points],
    )


def plan_consumption(member_id: int, points: int) -> list[LotTake]:
    """(lot, points taken, issuer) from the member's lots, soonest expiry first.
    The caller holds the wallet lock, which guards the member's lots."""
    rows = driver_sql.fetchall(
        """
        SELECT id, remaining, issuer_id FROM public.ledger_lot
         WHERE member_id = %s AND remaining > 0
         ORDER BY expires_at ASC NULLS LAST, earned_at, id
        """,
        [member_id],
    )
    plan, needed = [], points
    for lot_id, remaining, issuer_id in rows:
        if needed == 0:
            break
        take = min(needed, int(remaining))
        plan.append((int(lot_id), take, None if issuer_id is None else int(issuer_id)))
        needed -= take
    if needed:
        # Stored balance and lots disagree: refuse rather than post a wrong burn.
        raise InsufficientPoints(
            f"the member's lots hold {points - needed} of the {points} points needed"
        )
    return plan


def consumption_result(plan: list[LotTake]) -> list[dict[str, int | None]]:
    return [{"lot": lot, "points": taken, "issuer": issuer} for lot, taken, issuer in plan]


def net_consumed(
    transaction_ids: Sequence[int], member_id: int | None = None
) -> list[tuple[int, int]]:
    """Per lot, points these transactions took out and have not given back,
    newest consumption first (the order in which to give points back). With
    ``member_id``, only that member's lots: a transfer's reversals also take
    points out of the recipient's lots, which must never be given back to."""
    rows = driver_sql.fetchall(
        """
        SELECT m.lot_id, -sum(m.points) AS net, max(m.id) AS last
          FROM public.ledger_lotmovement m JOIN public.ledger_lot l ON l.id = m.lot_id
         WHERE m.transaction_id = ANY(%s) AND (%s::bigint IS NULL OR l.member_id = %s)
         GROUP BY m.lot_id HAVING sum(m.points) < 0
         ORDER BY last DESC
        """,
        [list(transaction_ids), member_id, member_id],
    )
    return [(int(row[0]), int(row[1])) for row in rows]


def restore_plan(consumed: list[tuple[int, int]], points: int) -> list[tuple[int, int]]:
    """(lot, points given back) for ``points``, from what ``net_consumed`` found."""
    plan, left = [], points
    for lot_id, net in consumed:
        if left == 0:
            break
        give = min(left, net)
        plan.append((lot_id, give))
        left -= give
    return plan
