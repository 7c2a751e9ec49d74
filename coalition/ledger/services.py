"""Writes to the ledger: earn, burn, holds, reversals, transfers, expiry.

Every operation is one short database transaction that
- locks the member wallets it touches, in account-id order (no deadlocks);
- inserts the journal header first, so a concurrent repeat of the same
  idempotency key fails fast on the unique constraint and replays the result;
- moves points between lots (who issued them, when they expire) and records each
  move, so every redeemed point stays traceable to its issuer;
- posts balanced entries (the database refuses unbalanced ones at commit) and
  updates the stored wallet balance. Hot partner and coalition accounts get
  entries only, never a row update.

Earning, the hottest path, is a single SQL statement (one round trip).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

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
from coalition.ledger.models import AccountKind, HoldStatus, TransactionKind
from coalition.members.errors import MemberNotActive, UnknownMember
from coalition.members.models import MemberStatus
from coalition.members.selectors import member_active_sql
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey, request_hash
from tenants.partners.models import PartnerStatus
from tenants.partners.selectors import partner_active_sql

T = TypeVar("T")

IDEMPOTENCY_CONSTRAINT = "ledger_idempotency"
MAX_ATTEMPTS = 5


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
class _Wallet:
    account_id: int
    member_id: int
    balance: int
    status: str


# --- small SQL helpers ----------------------------------------------------------
# Every statement in this module names its schema (``public.``): it runs on the
# driver connection (see loyalty_kernel.driver_sql).

_cursor = driver_sql.driver_cursor
_fetchall = driver_sql.fetchall
_fetchone = driver_sql.fetchone
_execute = driver_sql.execute
_prepared_all = driver_sql.prepared_all
_prepared = driver_sql.prepared


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _as_dict(value: Any) -> dict[str, Any]:
    # Django's psycopg setup hands jsonb to raw cursors as text.
    return dict(json.loads(value) if isinstance(value, str) else value)


def _require_positive(points: int, name: str = "points") -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise AmountNotPositive(f"{name} must be a positive whole number, got {points!r}")


def _is_idempotency_violation(exc: IntegrityError) -> bool:
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    return getattr(diag, "constraint_name", None) == IDEMPOTENCY_CONSTRAINT


def _is_retryable(exc: OperationalError) -> bool:
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate in {"40001", "40P01"}  # serialization failure, deadlock detected


# --- accounts -------------------------------------------------------------------

_known_partner_accounts: set[int] = set()
_known_coalition_accounts: set[str] = set()


def partner_accounts_ensure(partner_id: int) -> None:
    """Open the partner's issuance and redemption accounts if missing (idempotent)."""
    if partner_id in _known_partner_accounts:
        return
    # Only for a partner that exists: an account of an unknown partner would fail
    # its (deferred) foreign key at commit instead of reporting UnknownPartner.
    _execute(
        """
        INSERT INTO public.ledger_account (kind, partner_id, name, balance, created_at)
        SELECT k.kind, p.id, '', 0, now()
          FROM public.partners_partner p, unnest(ARRAY['issuance', 'redemption']) AS k(kind)
         WHERE p.id = %s
        ON CONFLICT (kind, partner_id) WHERE partner_id IS NOT NULL DO NOTHING
        """,
        [partner_id],
    )
    _known_partner_accounts.add(partner_id)


def coalition_accounts_ensure() -> None:
    kinds = [AccountKind.HOLDS, AccountKind.BREAKAGE, AccountKind.FEES]
    if all(kind in _known_coalition_accounts for kind in kinds):
        return
    _execute(
        """
        INSERT INTO public.ledger_account (kind, name, balance, created_at)
        SELECT kind, kind, 0, now() FROM unnest(%s::text[]) AS kind
        ON CONFLICT (kind) WHERE kind IN ('holds', 'breakage', 'fees') DO NOTHING
        """,
        [[str(kind) for kind in kinds]],
    )
    _known_coalition_accounts.update(kinds)


def forget_known_accounts() -> None:
    """Forget which accounts exist (after a rollback that removed some, e.g. in tests)."""
    _known_partner_accounts.clear()
    _known_coalition_accounts.clear()


def _partner_account_id(partner_id: int, kind: str, *, retried: bool = False) -> int:
    partner_accounts_ensure(partner_id)
    row = _fetchone(
        "SELECT id FROM public.ledger_account WHERE kind = %s AND partner_id = %s",
        [kind, partner_id],
    )
    if row is None:
        if retried:  # opened afresh and still missing: there is no such partner
            raise UnknownPartner(f"no partner with id {partner_id}")
        forget_known_accounts()  # cached as known, but rolled back since
        return _partner_account_id(partner_id, kind, retried=True)
    return int(row[0])


def _coalition_account_id(kind: str) -> int:
    coalition_accounts_ensure()
    row = _fetchone("SELECT id FROM public.ledger_account WHERE kind = %s", [kind])
    if row is None:
        forget_known_accounts()
        return _coalition_account_id(kind)
    return int(row[0])


def _require_active_partner(partner_id: int) -> None:
    row = _fetchone("SELECT status FROM public.partners_partner WHERE id = %s", [partner_id])
    if row is None:
        raise UnknownPartner(f"no partner with id {partner_id}")
    if row[0] != PartnerStatus.ACTIVE:
        raise PartnerNotActive(f"partner {partner_id} is {row[0]}, not active")


def _lock_wallets(member_ids: Iterable[int], *, require_active: bool) -> dict[int, _Wallet]:
    """Lock the wallets of these members in account-id order and return them."""
    ids = sorted(set(member_ids))
    rows = _fetchall(
        """
        SELECT a.id, a.member_id, a.balance, m.status
          FROM public.ledger_account a JOIN public.members_member m ON m.id = a.member_id
         WHERE a.kind = 'wallet' AND a.member_id = ANY(%s)
         ORDER BY a.id
           FOR UPDATE OF a
        """,
        [ids],
    )
    wallets = {row[1]: _Wallet(row[0], row[1], row[2], row[3]) for row in rows}
    for member_id in ids:
        if member_id not in wallets:
            raise UnknownMember(f"no member with id {member_id}")
        if require_active and wallets[member_id].status != MemberStatus.ACTIVE:
            raise MemberNotActive(f"member {member_id} is {wallets[member_id].status}")
    return wallets


def _diagnose_earn_refusal(member_id: int, partner_id: int) -> None:
    row = _fetchone(
        """
        SELECT m.status, a.id FROM public.members_member m
          LEFT JOIN public.ledger_account a ON a.member_id = m.id AND a.kind = 'wallet'
         WHERE m.id = %s
        """,
        [member_id],
    )
    if row is None or row[1] is None:
        raise UnknownMember(f"no member with id {member_id}")
    if row[0] != MemberStatus.ACTIVE:
        raise MemberNotActive(f"member {member_id} is {row[0]}")
    _require_active_partner(partner_id)


# --- idempotent execution ---------------------------------------------------------


def _replay(idem: IdempotencyKey, digest: str) -> Posting | None:
    row = _fetchone(
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
    return Posting(int(row[0]), row[1], int(row[2]), _as_dict(row[4]), replayed=True)


def _run_idempotent(
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
        existing = _replay(idem, digest)
        if existing is not None:
            return existing
    nested = connection.in_atomic_block
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return post(digest)
        except IntegrityError as exc:
            if idem is not None and _is_idempotency_violation(exc):
                existing = _replay(idem, digest)
                if existing is not None:
                    return existing
            raise
        except OperationalError as exc:
            if nested or attempt == MAX_ATTEMPTS or not _is_retryable(exc):
                raise
            time.sleep(0.005 * attempt)
    raise AssertionError("unreachable")


def _insert_header(
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
    row = _fetchone(
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
            _json(result),
        ],
    )
    assert row is not None
    return int(row[0]), row[1]


def _insert_entries(transaction_id: int, legs: Sequence[tuple[int, int]]) -> None:
    legs = [(account, amount) for account, amount in legs if amount != 0]
    if not legs:
        return
    _execute(
        """
        INSERT INTO public.ledger_entry (transaction_id, account_id, amount)
        SELECT %s, account, amount FROM unnest(%s::bigint[], %s::bigint[]) AS t(account, amount)
        """,
        [transaction_id, [leg[0] for leg in legs], [leg[1] for leg in legs]],
    )


def _adjust_wallets(deltas: dict[int, int]) -> None:
    deltas = {account: delta for account, delta in deltas.items() if delta != 0}
    if not deltas:
        return
    _execute(
        """
        UPDATE public.ledger_account a SET balance = a.balance + d.delta
          FROM unnest(%s::bigint[], %s::bigint[]) AS d(id, delta)
         WHERE a.id = d.id
        """,
        [list(deltas), list(deltas.values())],
    )


def _move_lots(transaction_id: int, moves: Sequence[tuple[int, int]]) -> None:
    """Apply (lot_id, signed points) to lots and record each movement."""
    moves = [(lot, points) for lot, points in moves if points != 0]
    if not moves:
        return
    lots, points = [move[0] for move in moves], [move[1] for move in moves]
    _execute(
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


def _plan_consumption(member_id: int, points: int) -> list[tuple[int, int, int]]:
    """(lot, points taken, issuer) from the member's lots, soonest expiry first.
    The caller holds the wallet lock, which guards the member's lots."""
    rows = _fetchall(
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
        plan.append((int(lot_id), take, int(issuer_id)))
        needed -= take
    if needed:
        # Stored balance and lots disagree: refuse rather than post a wrong burn.
        raise InsufficientPoints(f"lots of member {member_id} hold {points - needed} < {points}")
    return plan


def _spendable(
    member_id: int, points: int, *, partner_id: int | None = None
) -> tuple[_Wallet, list[tuple[int, int, int]]]:
    """Lock an active member's wallet, check the partner (if any) and the balance,
    and plan which lots the points come from (soonest expiry first)."""
    wallet = _lock_wallets([member_id], require_active=True)[member_id]
    if partner_id is not None:
        _require_active_partner(partner_id)
    if wallet.balance < points:
        raise InsufficientPoints(f"member {member_id} has {wallet.balance} points, {points} needed")
    return wallet, _plan_consumption(member_id, points)


def _spend(
    tx_id: int, wallet: _Wallet, plan: list[tuple[int, int, int]], points: int, *, to_account: int
) -> None:
    """Post a planned spend: lots give up their points, the wallet pays the account."""
    _move_lots(tx_id, [(lot, -taken) for lot, taken, _ in plan])
    _insert_entries(tx_id, [(wallet.account_id, -points), (to_account, points)])
    _adjust_wallets({wallet.account_id: -points})


def _consumption_result(plan: list[tuple[int, int, int]]) -> list[dict[str, int]]:
    return [{"lot": lot, "points": taken, "issuer": issuer} for lot, taken, issuer in plan]


def _net_consumed(
    transaction_ids: Sequence[int], member_id: int | None = None
) -> list[tuple[int, int]]:
    """Per lot, points these transactions took out and have not given back,
    newest consumption first (the order in which to give points back). With
    ``member_id``, only that member's lots: a transfer's reversals also take
    points out of the recipient's lots, which must never be given back to."""
    rows = _fetchall(
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


def _restore_plan(consumed: list[tuple[int, int]], points: int) -> list[tuple[int, int]]:
    plan, left = [], points
    for lot_id, net in consumed:
        if left == 0:
            break
        give = min(left, net)
        plan.append((lot_id, give))
        left -= give
    return plan


# --- earn -------------------------------------------------------------------------

_sequences: dict[str, str] = {}


def _id_sequence(table: str) -> str:
    """The sequence behind a ledger table's id (looked up once per process)."""
    if table not in _sequences:
        row = _fetchone("SELECT pg_get_serial_sequence(%s, 'id')", [f"public.{table}"])
        assert row is not None
        _sequences[table] = str(row[0])
    return _sequences[table]


EARN_SQL = f"""
WITH wallet AS (
    UPDATE public.ledger_account AS a SET balance = a.balance + %(points)s::bigint
      FROM public.members_member AS m, public.partners_partner AS p,
           public.ledger_account AS issuance
     WHERE a.member_id = %(member)s::bigint AND a.kind = 'wallet'
       AND m.id = a.member_id AND {member_active_sql("m")}
       AND p.id = %(partner)s::bigint AND {partner_active_sql("p")}
       AND issuance.kind = 'issuance' AND issuance.partner_id = p.id
       AND NOT EXISTS (
           SELECT 1 FROM public.ledger_transaction AS known
            WHERE known.idempotency_scope = %(scope)s::text
              AND known.idempotency_key = %(key)s::text
       )
    RETURNING a.id, a.balance, issuance.id AS issuance_id
), lot_id AS (
    SELECT nextval(%(lot_seq)s::text::regclass) AS id FROM wallet
), header AS (
    INSERT INTO public.ledger_transaction
        (kind, partner_id, member_id, points, external_ref, memo, idempotency_scope,
         idempotency_key, request_hash, result, created_at)
    SELECT 'earn', %(partner)s::bigint, %(member)s::bigint, %(points)s::bigint,
           %(ref)s::text, %(memo)s::text, %(scope)s::text, %(key)s::text, %(hash)s::text,
           jsonb_build_object('balance_after', wallet.balance, 'lot', lot_id.id), now()
      FROM wallet, lot_id
    RETURNING id, created_at
), entries AS (
    INSERT INTO public.ledger_entry (transaction_id, account_id, amount)
    SELECT header.id, wallet.id, %(points)s::bigint FROM header, wallet
    UNION ALL
    SELECT header.id, wallet.issuance_id, -%(points)s::bigint FROM header, wallet
), lot AS (
    INSERT INTO public.ledger_lot
        (id, member_id, issuer_id, transaction_id, earned_at, expires_at, points, remaining)
    SELECT lot_id.id, %(member)s::bigint, %(partner)s::bigint, header.id, header.created_at,
           %(expires)s::timestamptz, %(points)s::bigint, %(points)s::bigint
      FROM header, lot_id
)
SELECT header.id, wallet.balance, lot_id.id FROM header, wallet, lot_id
"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def _earn_payload(
    member_id: int, partner_id: int, points: int, expires_at: datetime | None, external_ref: str
) -> dict[str, Any]:
    """What an earn's request hash covers (``earn`` and ``earn_batch`` alike)."""
    return {
        "member": member_id,
        "partner": partner_id,
        "points": points,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "external_ref": external_ref,
    }


def earn(
    *,
    member_id: int,
    partner_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    expires_at: datetime | None = None,
    external_ref: str = "",
    memo: str = "",
    savepoint: bool = True,
) -> Posting:
    """Credit points issued by a partner to a member's wallet as a new lot.

    One prepared SQL statement, one round trip: the wallet update, the journal
    header, both entries and the lot, unless the idempotency key is known (then
    the stored result is replayed). Outside a transaction the statement is its
    own transaction (the deferred balance checks run at its end); inside one it
    runs under a savepoint, unless the caller passes ``savepoint=False`` because
    it answers a failure by rolling back its whole transaction anyway (two round
    trips fewer; an idempotency clash then raises instead of replaying).
    """
    _require_positive(points)
    if expires_at is not None and timezone.is_naive(expires_at):
        raise InvalidExpiry("expires_at must carry a time zone")
    partner_accounts_ensure(partner_id)
    digest = request_hash(
        "earn", _earn_payload(member_id, partner_id, points, expires_at, external_ref)
    )
    params = {
        "member": Int8(member_id),
        "partner": Int8(partner_id),
        "points": Int8(points),
        "expires": expires_at,
        "ref": external_ref,
        "memo": memo,
        "scope": idempotency.scope if idempotency else None,
        "key": idempotency.key if idempotency else None,
        "hash": digest,
        "lot_seq": _id_sequence("ledger_lot"),
    }
    posting = _earn_statement(params, points, idempotency, digest, savepoint=savepoint)
    if posting is None:
        # Nothing posted: the key was used before, or the request is refused.
        if idempotency is not None and (existing := _replay(idempotency, digest)):
            return existing
        _diagnose_earn_refusal(member_id, partner_id)
        # Member and partner are fine: the issuance account was missing (a
        # rollback removed it after it was cached as known). Open it, retry.
        forget_known_accounts()
        partner_accounts_ensure(partner_id)
        posting = _earn_statement(params, points, idempotency, digest, savepoint=savepoint)
        if posting is None and idempotency is not None:
            posting = _replay(idempotency, digest)  # posted by a concurrent request
        assert posting is not None
    return posting


def _earn_statement(
    params: dict[str, Any],
    points: int,
    idem: IdempotencyKey | None,
    digest: str,
    *,
    savepoint: bool = True,
) -> Posting | None:
    """Run the earn statement: the new posting, the replay of a concurrent request
    that took the key first, or None if nothing was posted."""
    on_its_own = connection.get_autocommit() and not connection.in_atomic_block
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if not on_its_own and not savepoint:
            # A failure breaks the caller's transaction, which rolls back.
            return _earn_posting(_prepared(EARN_SQL, params), points)
        try:
            if on_its_own:
                row = _prepared(EARN_SQL, params)
            else:
                with transaction.atomic():
                    row = _prepared(EARN_SQL, params)
        except IntegrityError as exc:
            if idem is not None and _is_idempotency_violation(exc):
                existing = _replay(idem, digest)
                if existing is not None:
                    return existing
            raise
        except OperationalError as exc:
            if not on_its_own or attempt == MAX_ATTEMPTS or not _is_retryable(exc):
                raise
            time.sleep(0.005 * attempt)
            continue
        return _earn_posting(row, points)
    raise AssertionError("unreachable")


def _earn_posting(row: tuple[Any, ...] | None, points: int) -> Posting | None:
    if row is None:
        return None
    return Posting(
        int(row[0]),
        TransactionKind.EARN,
        points,
        {"balance_after": int(row[1]), "lot": int(row[2])},
    )


# --- earn in batches ----------------------------------------------------------------


@dataclass(frozen=True)
class EarnRequest:
    """One earn of a batch: the arguments of ``earn``."""

    member_id: int
    partner_id: int
    points: int
    idempotency: IdempotencyKey | None = None
    expires_at: datetime | None = None
    external_ref: str = ""
    memo: str = ""


# One statement for the whole batch: headers, entries, lots and the wallet updates
# (one per wallet). Ids come from the sequences inside the statement that inserts
# the headers, so they are drawn while it holds its lock on the journal (as in
# EARN_SQL): ``safe_watermark`` stays exact.
EARN_BATCH_SQL = """
WITH item AS (
    SELECT * FROM unnest(
        %(ord)s::int[], %(member)s::bigint[], %(partner)s::bigint[], %(wallet)s::bigint[],
        %(issuance)s::bigint[], %(points)s::bigint[], %(expires)s::timestamptz[],
        %(ref)s::text[], %(memo)s::text[], %(scope)s::text[], %(key)s::text[],
        %(hash)s::text[], %(after)s::bigint[]
    ) AS i(ord, member_id, partner_id, wallet_id, issuance_id, points, expires_at,
           external_ref, memo, scope, key, hash, balance_after)
), ids AS MATERIALIZED (
    SELECT item.*, nextval(%(tx_seq)s::regclass) AS tx_id,
           nextval(%(lot_seq)s::regclass) AS lot_id
      FROM item ORDER BY ord
), header AS (
    INSERT INTO public.ledger_transaction
        (id, kind, partner_id, member_id, points, external_ref, memo, idempotency_scope,
         idempotency_key, request_hash, result, created_at)
    SELECT tx_id, 'earn', partner_id, member_id, points, external_ref, memo, scope, key, hash,
           jsonb_build_object('balance_after', balance_after, 'lot', lot_id), now()
      FROM ids ORDER BY ord
), entries AS (
    INSERT INTO public.ledger_entry (transaction_id, account_id, amount)
    SELECT tx_id, wallet_id, points FROM ids
    UNION ALL
    SELECT tx_id, issuance_id, -points FROM ids
), lots AS (
    INSERT INTO public.ledger_lot
        (id, member_id, issuer_id, transaction_id, earned_at, expires_at, points, remaining)
    SELECT lot_id, member_id, partner_id, tx_id, now(), expires_at, points, points FROM ids
), wallets AS (
    UPDATE public.ledger_account a SET balance = a.balance + w.total
      FROM (SELECT wallet_id, sum(points) AS total FROM ids GROUP BY wallet_id) w
     WHERE a.id = w.wallet_id
)
SELECT ord, tx_id, lot_id FROM ids
"""


def _issuance_accounts(partner_ids: Sequence[int]) -> dict[int, int]:
    """Issuance account per partner; every partner must exist and be active."""
    ids = sorted(set(partner_ids))
    for partner_id in ids:
        partner_accounts_ensure(partner_id)
    query = """
        SELECT p.id, p.status, i.id FROM public.partners_partner p
          LEFT JOIN public.ledger_account i ON i.partner_id = p.id AND i.kind = 'issuance'
         WHERE p.id = ANY(%s)
    """
    rows = {int(row[0]): (row[1], row[2]) for row in _fetchall(query, [ids])}
    if any(row[1] is None for row in rows.values()):
        # Cached as opened, but a rollback removed them since: open them again.
        forget_known_accounts()
        for partner_id in ids:
            partner_accounts_ensure(partner_id)
        rows = {int(row[0]): (row[1], row[2]) for row in _fetchall(query, [ids])}
    for partner_id in ids:
        if partner_id not in rows:
            raise UnknownPartner(f"no partner with id {partner_id}")
        status = rows[partner_id][0]
        if status != PartnerStatus.ACTIVE:
            raise PartnerNotActive(f"partner {partner_id} is {status}, not active")
    return {partner_id: int(row[1]) for partner_id, row in rows.items()}


def _batch_replays(
    items: Sequence[EarnRequest], digests: Sequence[str], indexes: Sequence[int]
) -> dict[int, Posting]:
    """Items of the batch whose key was posted before: their stored result, or
    IdempotencyKeyReused if the key came with another request."""
    keyed = [i for i in indexes if items[i].idempotency is not None]
    if not keyed:
        return {}
    scopes = [items[i].idempotency.scope for i in keyed]  # type: ignore[union-attr]
    keys = [items[i].idempotency.key for i in keyed]  # type: ignore[union-attr]
    rows = _fetchall(
        """
        SELECT k.ord, t.id, t.kind, t.points, t.request_hash, t.result
          FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS k(scope, key, ord)
          JOIN public.ledger_transaction t
            ON t.idempotency_scope = k.scope AND t.idempotency_key = k.key
        """,
        [scopes, keys],
    )
    replays: dict[int, Posting] = {}
    for ordinal, tx_id, kind, points, digest, result in rows:
        index = keyed[int(ordinal) - 1]
        if digest != digests[index]:
            idem = items[index].idempotency
            assert idem is not None
            raise IdempotencyKeyReused(
                f"idempotency key {idem.key!r} was used for a different request "
                f"in scope {idem.scope!r}"
            )
        replays[index] = Posting(int(tx_id), kind, int(points), _as_dict(result), replayed=True)
    return replays


def _post_earn_batch(
    items: Sequence[EarnRequest], digests: Sequence[str], firsts: Sequence[int]
) -> dict[int, Posting]:
    """Post the batch's first occurrences of each request (inside a transaction)."""
    postings = _batch_replays(items, digests, firsts)
    todo = [i for i in firsts if i not in postings]
    if not todo:
        return postings
    wallets = _lock_wallets([items[i].member_id for i in todo], require_active=True)
    issuance = _issuance_accounts([items[i].partner_id for i in todo])
    running = {member_id: wallet.balance for member_id, wallet in wallets.items()}
    after = []
    for i in todo:
        running[items[i].member_id] += items[i].points
        after.append(running[items[i].member_id])
    batch = [items[i] for i in todo]
    rows = _prepared_all(
        EARN_BATCH_SQL,
        {
            "ord": list(range(len(todo))),
            "member": [item.member_id for item in batch],
            "partner": [item.partner_id for item in batch],
            "wallet": [wallets[item.member_id].account_id for item in batch],
            "issuance": [issuance[item.partner_id] for item in batch],
            "points": [item.points for item in batch],
            "expires": [item.expires_at for item in batch],
            "ref": [item.external_ref for item in batch],
            "memo": [item.memo for item in batch],
            "scope": [item.idempotency.scope if item.idempotency else None for item in batch],
            "key": [item.idempotency.key if item.idempotency else None for item in batch],
            "hash": [digests[i] for i in todo],
            "after": after,
            "tx_seq": _id_sequence("ledger_transaction"),
            "lot_seq": _id_sequence("ledger_lot"),
        },
    )
    for ordinal, tx_id, lot_id in rows:
        position = int(ordinal)
        postings[todo[position]] = Posting(
            int(tx_id),
            TransactionKind.EARN,
            batch[position].points,
            {"balance_after": after[position], "lot": int(lot_id)},
        )
    return postings


def _earn_one_by_one(items: Sequence[EarnRequest]) -> list[Posting]:
    """The batch as single earns in one transaction (each replays or posts), in
    wallet-account order like every other multi-wallet lock."""
    members = sorted({item.member_id for item in items})
    account_of = {
        int(member): int(account)
        for member, account in _fetchall(
            """
            SELECT member_id, id FROM public.ledger_account
             WHERE kind = 'wallet' AND member_id = ANY(%s)
            """,
            [members],
        )
    }
    order = sorted(range(len(items)), key=lambda i: account_of.get(items[i].member_id, 0))
    postings: dict[int, Posting] = {}
    with transaction.atomic():
        for i in order:
            item = items[i]
            postings[i] = earn(
                member_id=item.member_id,
                partner_id=item.partner_id,
                points=item.points,
                idempotency=item.idempotency,
                expires_at=item.expires_at,
                external_ref=item.external_ref,
                memo=item.memo,
            )
    return [postings[i] for i in range(len(items))]


def earn_batch(items: Sequence[EarnRequest]) -> list[Posting]:
    """Post many earns in one database transaction, with a handful of set-based
    statements whatever the batch size; return one Posting per item, in order.

    All or nothing: an invalid item (typed error as ``earn`` raises it: points,
    expiry, unknown or inactive member or partner, a key reused with another
    request) posts none of them. Idempotency is per item: an item whose key was
    posted before (by ``earn`` or an earlier batch) replays its stored result; the
    same key twice in one batch posts once. If a concurrent request takes one of
    the keys meanwhile, the batch is posted item by item instead (still in one
    transaction), so that item replays the winner's result.
    """
    items = list(items)
    for item in items:
        _require_positive(item.points)
        if item.expires_at is not None and timezone.is_naive(item.expires_at):
            raise InvalidExpiry("expires_at must carry a time zone")
    if not items:
        return []
    digests = [
        request_hash(
            "earn",
            _earn_payload(
                item.member_id, item.partner_id, item.points, item.expires_at, item.external_ref
            ),
        )
        for item in items
    ]
    first_of: dict[tuple[str, str], int] = {}
    duplicate_of: dict[int, int] = {}
    for index, item in enumerate(items):
        if item.idempotency is None:
            continue
        ident = (item.idempotency.scope, item.idempotency.key)
        first = first_of.setdefault(ident, index)
        if first != index:
            if digests[first] != digests[index]:
                raise IdempotencyKeyReused(
                    f"idempotency key {item.idempotency.key!r} appears twice in the batch "
                    "with different requests"
                )
            duplicate_of[index] = first
    firsts = [i for i in range(len(items)) if i not in duplicate_of]
    nested = connection.in_atomic_block
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                posted = _post_earn_batch(items, digests, firsts)
            break
        except IntegrityError as exc:
            if not _is_idempotency_violation(exc):
                raise
            if nested:
                return _earn_one_by_one(items)
            return retrying(lambda: _earn_one_by_one(items))
        except OperationalError as exc:
            if nested or attempt == MAX_ATTEMPTS or not _is_retryable(exc):
                raise
            time.sleep(0.005 * attempt)
    else:  # pragma: no cover - the loop breaks or raises
        raise AssertionError("unreachable")
    return [
        replace(posted[duplicate_of[i]], replayed=True) if i in duplicate_of else posted[i]
        for i in range(len(items))
    ]


# --- burn -------------------------------------------------------------------------


def burn(
    *,
    member_id: int,
    partner_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    external_ref: str = "",
    memo: str = "",
) -> Posting:
    """Spend points at a partner: lots are consumed soonest-expiry first."""
    _require_positive(points)
    payload = {
        "member": member_id,
        "partner": partner_id,
        "points": points,
        "external_ref": external_ref,
    }

    def post(digest: str) -> Posting:
        redemption = _partner_account_id(partner_id, AccountKind.REDEMPTION)
        wallet, plan = _spendable(member_id, points, partner_id=partner_id)
        result = {
            "balance_after": wallet.balance - points,
            "consumed": _consumption_result(plan),
        }
        tx_id, _ = _insert_header(
            kind=TransactionKind.BURN,
            partner_id=partner_id,
            member_id=member_id,
            points=points,
            idem=idempotency,
            digest=digest,
            result=result,
            external_ref=external_ref,
            memo=memo,
        )
        _spend(tx_id, wallet, plan, points, to_account=redemption)
        return Posting(tx_id, TransactionKind.BURN, points, result)

    return _run_idempotent(idempotency, "burn", payload, post)


# --- holds ------------------------------------------------------------------------


def hold_authorize(
    *,
    member_id: int,
    partner_id: int,
    points: int,
    expires_at: datetime | None = None,
    expires_in: timedelta | None = None,
    idempotency: IdempotencyKey | None = None,
    external_ref: str = "",
) -> Posting:
    """Reserve points for a payment at a partner. The points leave the wallet (and
    its lots) into the holds account until the hold is captured, voided or expires."""
    _require_positive(points)
    # The request hash covers what the caller sent: a retry without an expiry
    # must replay, not look like another request because the default moved on.
    payload = {
        "member": member_id,
        "partner": partner_id,
        "points": points,
        "expires_at": expires_at.isoformat() if expires_at else None,
        # A relative expiry is part of the request; the instant it yields is not,
        # so a retry of the same request replays instead of looking different.
        "expires_in": expires_in.total_seconds() if expires_in else None,
        "external_ref": external_ref,
    }
    now = timezone.now()
    expires_at = expires_at or now + (expires_in or timedelta(minutes=15))
    if timezone.is_naive(expires_at) or expires_at <= now:
        raise InvalidExpiry("a hold must expire in the future (with a time zone)")

    def post(digest: str) -> Posting:
        holds_account = _coalition_account_id(AccountKind.HOLDS)
        wallet, plan = _spendable(member_id, points, partner_id=partner_id)
        hold_row = _fetchone(
            """
            INSERT INTO public.ledger_hold
                (member_id, partner_id, points, captured_points, status, expires_at, created_at)
            VALUES (%s, %s, %s, 0, 'pending', %s, now()) RETURNING id
            """,
            [member_id, partner_id, points, expires_at],
        )
        assert hold_row is not None
        hold_id = int(hold_row[0])
        result = {
            "hold": hold_id,
            "balance_after": wallet.balance - points,
            "expires_at": expires_at.isoformat(),
        }
        tx_id, _ = _insert_header(
            kind=TransactionKind.HOLD,
            partner_id=partner_id,
            member_id=member_id,
            points=points,
            idem=idempotency,
            digest=digest,
            result=result,
            external_ref=external_ref,
            hold_id=hold_id,
        )
        _spend(tx_id, wallet, plan, points, to_account=holds_account)
        return Posting(tx_id, TransactionKind.HOLD, points, result)

    return _run_idempotent(idempotency, "hold", payload, post)


def _resolve_hold(
    *,
    hold_id: int,
    kind: str,
    capture_points: int,
    digest: str,
    idempotency: IdempotencyKey | None,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> Posting:
    hold = _fetchone("SELECT member_id FROM public.ledger_hold WHERE id = %s", [hold_id])
    if hold is None:
        raise UnknownHold(f"no hold with id {hold_id}")
    member_id = int(hold[0])
    wallet = _lock_wallets([member_id], require_active=False)[member_id]
    locked = _fetchone(
        """
        SELECT partner_id, points, status, expires_at FROM public.ledger_hold
         WHERE id = %s FOR UPDATE
        """,
        [hold_id],
    )
    assert locked is not None
    hold_partner, held, status, expires_at = int(locked[0]), int(locked[1]), locked[2], locked[3]
    if status != HoldStatus.PENDING:
        raise HoldAlreadyResolved(f"hold {hold_id} is already {status}")
    if partner_id is not None and partner_id != hold_partner:
        raise WrongPartner(f"hold {hold_id} belongs to another partner")
    now = now or timezone.now()
    if kind == TransactionKind.CAPTURE and expires_at <= now:
        raise HoldExpired(f"hold {hold_id} expired at {expires_at.isoformat()}")
    if kind == TransactionKind.HOLD_EXPIRY and expires_at > now:
        raise HoldAlreadyResolved(f"hold {hold_id} has not expired yet")
    if capture_points > held:
        raise CaptureExceedsHold(f"cannot capture {capture_points} of a {held}-point hold")
    release = held - capture_points
    holds_account = _coalition_account_id(AccountKind.HOLDS)
    legs = [(holds_account, -held), (wallet.account_id, release)]
    if capture_points:
        legs.append((_partner_account_id(hold_partner, AccountKind.REDEMPTION), capture_points))
    authorize = _fetchone(
        "SELECT id FROM public.ledger_transaction WHERE hold_id = %s AND kind = 'hold'", [hold_id]
    )
    assert authorize is not None
    restore = _restore_plan(_net_consumed([int(authorize[0])]), release)
    result = {
        "hold": hold_id,
        "captured": capture_points,
        "released": release,
        "balance_after": wallet.balance + release,
    }
    tx_id, _ = _insert_header(
        kind=kind,
        partner_id=hold_partner,
        member_id=member_id,
        points=held,
        idem=idempotency,
        digest=digest,
        result=result,
        hold_id=hold_id,
    )
    _move_lots(tx_id, restore)
    _insert_entries(tx_id, legs)
    _adjust_wallets({wallet.account_id: release})
    new_status: str = {
        str(TransactionKind.CAPTURE): HoldStatus.CAPTURED,
        str(TransactionKind.VOID): HoldStatus.VOIDED,
        str(TransactionKind.HOLD_EXPIRY): HoldStatus.EXPIRED,
    }[kind]
    _execute(
        """
        UPDATE public.ledger_hold SET status = %s, captured_points = %s, resolved_at = now()
         WHERE id = %s AND status = 'pending'
        """,
        [new_status, capture_points, hold_id],
    )
    return Posting(tx_id, kind, held, result)


def hold_capture(
    *,
    hold_id: int,
    points: int | None = None,
    partner_id: int | None = None,
    idempotency: IdempotencyKey | None = None,
) -> Posting:
    """Capture all or part of a pending hold; the rest returns to the wallet."""
    if points is not None:
        _require_positive(points)
    payload = {"hold": hold_id, "points": points, "partner": partner_id}

    def post(digest: str) -> Posting:
        capture = points
        if capture is None:
            row = _fetchone("SELECT points FROM public.ledger_hold WHERE id = %s", [hold_id])
            if row is None:
                raise UnknownHold(f"no hold with id {hold_id}")
            capture = int(row[0])
        return _resolve_hold(
            hold_id=hold_id,
            kind=TransactionKind.CAPTURE,
            capture_points=capture,
            digest=digest,
            idempotency=idempotency,
            partner_id=partner_id,
        )

    return _run_idempotent(idempotency, "capture", payload, post)


def hold_void(
    *,
    hold_id: int,
    partner_id: int | None = None,
    idempotency: IdempotencyKey | None = None,
) -> Posting:
    """Cancel a pending hold; every held point returns to the wallet's lots."""
    payload = {"hold": hold_id, "partner": partner_id}

    def post(digest: str) -> Posting:
        return _resolve_hold(
            hold_id=hold_id,
            kind=TransactionKind.VOID,
            capture_points=0,
            digest=digest,
            idempotency=idempotency,
            partner_id=partner_id,
        )

    return _run_idempotent(idempotency, "void", payload, post)


def holds_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Release every pending hold past its expiry. Safe to run twice or concurrently:
    each hold is resolved under its member's lock, once."""
    now = now or timezone.now()
    rows = _fetchall(
        """
        SELECT id FROM public.ledger_hold
         WHERE status = 'pending' AND expires_at <= %s ORDER BY id LIMIT %s
        """,
        [now, limit],
    )
    expired = 0
    for (hold_id,) in rows:

        def post(digest: str, hold_id: int = int(hold_id)) -> Posting:
            return _resolve_hold(
                hold_id=hold_id,
                kind=TransactionKind.HOLD_EXPIRY,
                capture_points=0,
                digest=digest,
                idempotency=None,
                now=now,
            )

        try:
            _run_idempotent(None, "hold_expiry", {"hold": hold_id}, post)
            expired += 1
        except HoldAlreadyResolved:
            continue  # resolved by someone else meanwhile
    return expired


# --- reversals --------------------------------------------------------------------

REVERSAL_KINDS = {
    TransactionKind.EARN: TransactionKind.EARN_REVERSAL,
    TransactionKind.BURN: TransactionKind.BURN_REVERSAL,
    TransactionKind.TRANSFER: TransactionKind.TRANSFER_REVERSAL,
}


def reverse(
    *,
    transaction_id: int,
    points: int | None = None,
    allow_shortfall: bool = False,
    idempotency: IdempotencyKey | None = None,
    memo: str = "",
) -> Posting:
    """Reverse an earn, burn or transfer, wholly or in part (repeatedly, up to the
    original points).

    Reversing points that the member has meanwhile spent: with ``allow_shortfall``
    the ledger takes back what is still there (from the lots the original created)
    and reports the rest as ``shortfall``; otherwise ``InsufficientPoints``. A
    wallet never goes negative either way.
    """
    if points is not None:
        _require_positive(points)
    payload = {"transaction": transaction_id, "points": points, "shortfall": allow_shortfall}

    def post(digest: str) -> Posting:
        original = _fetchone(
            """
            SELECT kind, partner_id, member_id, points, result FROM public.ledger_transaction
             WHERE id = %s
            """,
            [transaction_id],
        )
        if original is None:
            raise UnknownTransaction(f"no ledger transaction {transaction_id}")
        kind, partner_id, member_id, original_points, original_result = original
        original_result = _as_dict(original_result)
        if kind not in REVERSAL_KINDS:
            raise NotReversible(f"a {kind} transaction cannot be reversed")
        members = [int(member_id)]
        recipient_id = (
            original_result.get("to_member") if kind == TransactionKind.TRANSFER else None
        )
        if recipient_id is not None:
            members.append(int(recipient_id))
        wallets = _lock_wallets(members, require_active=False)
        # Serialise reversals of the same original (the wallet lock may not cover
        # it when the member's wallet is locked by a different reversal path).
        _fetchone(
            "SELECT id FROM public.ledger_transaction WHERE id = %s FOR UPDATE", [transaction_id]
        )
        already = _fetchone(
            "SELECT coalesce(sum(points), 0) FROM public.ledger_transaction WHERE reverses_id = %s",
            [transaction_id],
        )
        assert already is not None
        left = int(original_points) - int(already[0])
        requested = points if points is not None else left
        if requested <= 0 or requested > left:
            raise ReversalExceedsOriginal(
                f"transaction {transaction_id} has {left} points left to reverse, "
                f"{requested} requested"
            )
        reversal_kind = REVERSAL_KINDS[kind]
        if kind == TransactionKind.BURN:
            return _reverse_burn(
                transaction_id, int(member_id), int(partner_id), requested, wallets,
                reversal_kind, idempotency, digest, memo,
            )  # fmt: skip
        return _reverse_credit(
            transaction_id, kind, int(member_id), recipient_id, partner_id, requested,
            allow_shortfall, wallets, reversal_kind, idempotency, digest, memo,
        )  # fmt: skip

    return _run_idempotent(idempotency, "reverse", payload, post)


def _reverse_burn(
    original_id: int,
    member_id: int,
    partner_id: int,
    points: int,
    wallets: dict[int, _Wallet],
    kind: str,
    idem: IdempotencyKey | None,
    digest: str,
    memo: str,
) -> Posting:
    wallet = wallets[member_id]
    redemption = _partner_account_id(partner_id, AccountKind.REDEMPTION)
    reversal_ids = [
        int(row[0])
        for row in _fetchall(
            "SELECT id FROM public.ledger_transaction WHERE reverses_id = %s", [original_id]
        )
    ]
    restore = _restore_plan(_net_consumed([original_id, *reversal_ids]), points)
    result = {"reversed": points, "shortfall": 0, "balance_after": wallet.balance + points}
    tx_id, _ = _insert_header(
        kind=kind,
        partner_id=partner_id,
        member_id=member_id,
        points=points,
        idem=idem,
        digest=digest,
        result=result,
        memo=memo,
        reverses_id=original_id,
    )
    _move_lots(tx_id, restore)
    _insert_entries(tx_id, [(redemption, -points), (wallet.account_id, points)])
    _adjust_wallets({wallet.account_id: points})
    return Posting(tx_id, kind, points, result)


def _reverse_credit(
    original_id: int,
    original_kind: str,
    member_id: int,
    recipient_id: int | None,
    partner_id: int | None,
    points: int,
    allow_shortfall: bool,
    wallets: dict[int, _Wallet],
    kind: str,
    idem: IdempotencyKey | None,
    digest: str,
    memo: str,
) -> Posting:
    """Reverse an earn (points go back to the issuer) or a transfer (points go back
    to the sender): take them from the lots the original created."""
    holder_id = recipient_id if original_kind == TransactionKind.TRANSFER else member_id
    assert holder_id is not None
    holder = wallets[int(holder_id)]
    lots = _fetchall(
        """
        SELECT id, remaining FROM public.ledger_lot
         WHERE transaction_id = %s AND remaining > 0 ORDER BY id
        """,
        [original_id],
    )
    take_plan, left = [], points
    for lot_id, remaining in lots:
        if left == 0:
            break
        take = min(left, int(remaining))
        take_plan.append((int(lot_id), -take))
        left -= take
    taken = points - left
    if left and not allow_shortfall:
        raise InsufficientPoints(
            f"only {taken} of the {points} points are still in the wallet; "
            "allow a shortfall to take back what is there"
        )
    moves = list(take_plan)
    legs: list[tuple[int, int]] = [(holder.account_id, -taken)]
    deltas = {holder.account_id: -taken}
    if original_kind == TransactionKind.TRANSFER:
        sender = wallets[member_id]
        reversal_ids = [
            int(row[0])
            for row in _fetchall(
                "SELECT id FROM public.ledger_transaction WHERE reverses_id = %s", [original_id]
            )
        ]
        consumed = _net_consumed([original_id, *reversal_ids], member_id=member_id)
        moves += _restore_plan(consumed, taken)
        legs.append((sender.account_id, taken))
        deltas[sender.account_id] = taken
        balance_after = holder.balance - taken
    else:
        assert partner_id is not None
        legs.append((_partner_account_id(int(partner_id), AccountKind.ISSUANCE), taken))
        balance_after = holder.balance - taken
    result = {"reversed": taken, "shortfall": left, "balance_after": balance_after}
    tx_id, _ = _insert_header(
        kind=kind,
        partner_id=partner_id,
        member_id=member_id,
        points=points,
        idem=idem,
        digest=digest,
        result=result,
        memo=memo,
        reverses_id=original_id,
    )
    _move_lots(tx_id, moves)
    _insert_entries(tx_id, legs)
    _adjust_wallets(deltas)
    return Posting(tx_id, kind, points, result)


# --- transfers --------------------------------------------------------------------


def _transfer_payload(from_member_id: int, to_member_id: int, points: int) -> dict[str, Any]:
    return {"from": from_member_id, "to": to_member_id, "points": points}


def transfer_replay(
    *, from_member_id: int, to_member_id: int, points: int, idempotency: IdempotencyKey
) -> Posting | None:
    """The earlier result of this exact transfer request, if it was posted (a
    different request under the same key is ``IdempotencyKeyReused``)."""
    payload = _transfer_payload(from_member_id, to_member_id, points)
    return _replay(idempotency, request_hash("transfer", payload))


def transfer(
    *,
    from_member_id: int,
    to_member_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    memo: str = "",
) -> Posting:
    """Move points between two active members. The recipient gets new lots that keep
    the issuer, earn date and expiry of the sender's lots they came from."""
    _require_positive(points)
    if from_member_id == to_member_id:
        raise TransferToSelf("a member cannot transfer points to themselves")
    payload = _transfer_payload(from_member_id, to_member_id, points)

    def post(digest: str) -> Posting:
        wallets = _lock_wallets([from_member_id, to_member_id], require_active=True)
        sender, recipient = wallets[from_member_id], wallets[to_member_id]
        if sender.balance < points:
            raise InsufficientPoints(
                f"member {from_member_id} has {sender.balance} points, {points} needed"
            )
        plan = _plan_consumption(from_member_id, points)
        result = {
            "balance_after": sender.balance - points,
            "to_member": to_member_id,
            "recipient_balance_after": recipient.balance + points,
        }
        tx_id, _ = _insert_header(
            kind=TransactionKind.TRANSFER,
            partner_id=None,
            member_id=from_member_id,
            points=points,
            idem=idempotency,
            digest=digest,
            result=result,
            memo=memo,
        )
        _move_lots(tx_id, [(lot, -taken) for lot, taken, _ in plan])
        _execute(
            """
            INSERT INTO public.ledger_lot
                (member_id, issuer_id, transaction_id, source_lot_id, earned_at, expires_at,
                 points, remaining)
            SELECT %s, src.issuer_id, %s, src.id, src.earned_at, src.expires_at, t.points, t.points
              FROM unnest(%s::bigint[], %s::bigint[]) AS t(lot, points)
              JOIN public.ledger_lot src ON src.id = t.lot
            """,
            [to_member_id, tx_id, [p[0] for p in plan], [p[1] for p in plan]],
        )
        _insert_entries(tx_id, [(sender.account_id, -points), (recipient.account_id, points)])
        _adjust_wallets({sender.account_id: -points, recipient.account_id: points})
        return Posting(tx_id, TransactionKind.TRANSFER, points, result)

    return _run_idempotent(idempotency, "transfer", payload, post)


# --- expiry -----------------------------------------------------------------------


def _expire_member_lots(member_id: int, now: datetime, *, every_lot: bool) -> int:
    """Expire one member's expired lots (or, with ``every_lot``, all of them, for
    inactivity) into breakage, under the wallet lock. Returns points expired."""
    breakage = _coalition_account_id(AccountKind.BREAKAGE)
    condition = "" if every_lot else "AND expires_at IS NOT NULL AND expires_at <= %s"

    def post(digest: str) -> Posting:
        wallet = _lock_wallets([member_id], require_active=False)[member_id]
        lots = _fetchall(
            f"""
            SELECT id, remaining FROM public.ledger_lot
             WHERE member_id = %s AND remaining > 0 {condition}
             ORDER BY expires_at NULLS LAST, id
            """,  # noqa: S608 - condition is one of two constants
            [member_id] if every_lot else [member_id, now],
        )
        points = sum(int(row[1]) for row in lots)
        if not points:
            return Posting(0, TransactionKind.EXPIRY, 0, {"balance_after": wallet.balance})
        result = {
            "balance_after": wallet.balance - points,
            "lots": [int(row[0]) for row in lots],
            "reason": "inactivity" if every_lot else "expiry date",
        }
        tx_id, _ = _insert_header(
            kind=TransactionKind.EXPIRY,
            partner_id=None,
            member_id=member_id,
            points=points,
            idem=None,
            digest=digest,
            result=result,
            memo=str(result["reason"]),
        )
        _move_lots(tx_id, [(int(lot), -int(remaining)) for lot, remaining in lots])
        _insert_entries(tx_id, [(wallet.account_id, -points), (breakage, points)])
        _adjust_wallets({wallet.account_id: -points})
        return Posting(tx_id, TransactionKind.EXPIRY, points, result)

    payload = {"member": member_id, "now": now, "every_lot": every_lot}
    return _run_idempotent(None, "expiry", payload, post).points


def lots_expire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Move the remaining points of expired lots to the breakage account.

    One transaction per member, under the member's wallet lock, re-reading the
    lots after locking: running it twice, or twice at once, expires nothing more.
    Returns the number of points expired.
    """
    now = now or timezone.now()
    members = _fetchall(
        """
        SELECT DISTINCT member_id FROM public.ledger_lot
         WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= %s
         LIMIT %s
        """,
        [now, limit],
    )
    return sum(_expire_member_lots(int(row[0]), now, every_lot=False) for row in members)


def member_lots_expire(*, member_id: int, now: datetime | None = None) -> int:
    """Expire every remaining point of a member (inactivity expiry)."""
    return _expire_member_lots(member_id, now or timezone.now(), every_lot=True)


# --- donations ----------------------------------------------------------------------


def donate(
    *,
    member_id: int,
    charity_account_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    memo: str = "",
) -> Posting:
    """Give points to a charity's account; lots are consumed soonest-expiry first,
    so each donated point stays traceable to its issuer."""
    _require_positive(points)
    payload = {"member": member_id, "charity_account": charity_account_id, "points": points}

    def post(digest: str) -> Posting:
        wallet, plan = _spendable(member_id, points)
        result = {
            "balance_after": wallet.balance - points,
            "charity_account": charity_account_id,
            "consumed": _consumption_result(plan),
        }
        tx_id, _ = _insert_header(
            kind=TransactionKind.DONATION,
            partner_id=None,
            member_id=member_id,
            points=points,
            idem=idempotency,
            digest=digest,
            result=result,
            memo=memo,
        )
        _spend(tx_id, wallet, plan, points, to_account=charity_account_id)
        return Posting(tx_id, TransactionKind.DONATION, points, result)

    return _run_idempotent(idempotency, "donate", payload, post)


def retrying(operation: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    """Run a whole unit of work again on a deadlock or serialization failure."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except OperationalError as exc:
            if attempt == attempts or not _is_retryable(exc):
                raise
            time.sleep(0.005 * attempt)
    raise AssertionError("unreachable")
