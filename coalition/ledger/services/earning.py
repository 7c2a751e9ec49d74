"""Earning: a partner issues points to a member's wallet as a new lot.

The hottest write path, so it is one prepared SQL statement (one round trip):
the wallet update, the journal header, both entries and the lot, unless the
idempotency key is known. Only when that statement posts nothing does Python
work out why (a replay, an unknown or blocked member or partner, or a partner
account a rollback removed).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

from coalition.ledger.errors import InvalidExpiry, LedgerInconsistent
from coalition.ledger.models import TransactionKind
from coalition.ledger.services.accounts import (
    forget_known_accounts,
    partner_accounts_ensure,
    require_active_partner,
)
from coalition.ledger.services.posting import (
    Posting,
    id_sequence,
    replay,
    replay_of_key_race,
    require_positive,
)
from coalition.ledger.services.retry import retrying
from coalition.members.errors import MemberNotActive, UnknownMember
from coalition.members.models import MemberStatus
from coalition.members.selectors import member_active_sql
from loyalty_kernel import clock, driver_sql
from loyalty_kernel.idempotency import IdempotencyKey, request_hash
from tenants.partners.selectors import partner_active_sql

# The earn: the wallet update, the journal header, both entries and the lot, in one
# statement. ``{gate}`` and ``{gated}`` are empty for a plain earn; a gated one
# (``earn_gated_statement``) runs the caller's statement first and posts only if
# it returned a row.
_EARN_TEMPLATE = f"""
{{gate}}wallet AS (
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
       ){{gated}}
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
{{answer}}
"""  # noqa: S608 - identifiers and placeholders only, values are parameters
_ANSWER = "SELECT header.id, wallet.balance, lot_id.id FROM header, wallet, lot_id"
EARN_SQL = _EARN_TEMPLATE.format(gate="WITH ", gated="", answer=_ANSWER)
# A gated earn always answers one row: whether the gate passed, then the plain
# earn's row (NULLs when nothing was posted).
_GATED_ANSWER = (
    "SELECT EXISTS (SELECT 1 FROM gate), header.id, wallet.balance, lot_id.id"
    " FROM (SELECT 1) AS one LEFT JOIN (header CROSS JOIN wallet CROSS JOIN lot_id) ON true"
)


@lru_cache(maxsize=1024)
def _gated_earn_sql(gate: str) -> str:
    # compacted: psycopg parses a statement's placeholders once only up to 4,096 bytes
    return driver_sql.compact_sql(
        _EARN_TEMPLATE.format(
            gate=f"WITH gate AS (\n{gate}\n), ",
            gated="\n       AND EXISTS (SELECT 1 FROM gate)",
            answer=_GATED_ANSWER,
        )
    )


def earn_payload(
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


def require_valid_expiry(expires_at: datetime | None, now: datetime | None = None) -> None:
    """A lot's expiry, if any, carries a time zone and lies after ``now`` (default:
    the application clock): a lot born expired would go to breakage before the
    member could spend a point of it."""
    if expires_at is None:
        return
    if timezone.is_naive(expires_at):
        raise InvalidExpiry("expires_at must carry a time zone")
    now = now or clock.now()
    if expires_at <= now:
        raise InvalidExpiry(f"expires_at {expires_at.isoformat()} is not in the future")


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
    now: datetime | None = None,
) -> Posting:
    """Credit points issued by a partner to a member's wallet as a new lot.

    One prepared SQL statement, one round trip: the wallet update, the journal
    header, both entries and the lot, unless the idempotency key is known (then
    the stored result is replayed). Outside a transaction the statement is its
    own transaction (the deferred balance checks run at its end); inside one it
    runs under a savepoint, unless the caller passes ``savepoint=False`` because
    it answers a failure by rolling back its whole transaction anyway (two round
    trips fewer; an idempotency clash then raises instead of replaying).

    ``expires_at`` must lie after ``now`` (default: the application clock);
    ``now`` is not part of the request, so a retry replays.
    """
    _, params = earn_statement(
        member_id=member_id, partner_id=partner_id, points=points, idempotency=idempotency,
        expires_at=expires_at, external_ref=external_ref, memo=memo, now=now,
    )  # fmt: skip
    digest = params["hash"]
    posting = _earn_statement(params, points, idempotency, digest, savepoint=savepoint)
    if posting is not None:
        return posting
    # Nothing posted: the key was used before, or the request is refused.
    if idempotency is not None and (existing := replay(idempotency, digest)):
        return existing
    _diagnose_earn_refusal(member_id, partner_id)
    # Member and partner are fine: the issuance account was missing (a
    # rollback removed it after it was cached as known). Open it, retry.
    forget_known_accounts()
    partner_accounts_ensure(partner_id)
    posting = _earn_statement(params, points, idempotency, digest, savepoint=savepoint)
    if posting is None and idempotency is not None:
        posting = replay(idempotency, digest)  # posted by a concurrent request
    if posting is None:
        # The member or partner changed status between the two statements:
        # report it as such; anything else is a broken ledger.
        _diagnose_earn_refusal(member_id, partner_id)
        raise LedgerInconsistent(
            f"earn for member {member_id} at partner {partner_id} posted nothing"
        )
    return posting


def earn_statement(
    *,
    member_id: int,
    partner_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    expires_at: datetime | None = None,
    external_ref: str = "",
    memo: str = "",
    now: datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """The earn's statement and its parameters, the request checked (``earn``'s
    arguments and errors), for a caller inside its transaction that sends it
    together with its own statements (one round trip for both; ``recording``
    sends a purchase's campaign budget takes with it). ``earn_posting`` reads its
    row; no row means nothing was posted, and ``earn`` with the same arguments
    then says why (or replays)."""
    require_positive(points)
    require_valid_expiry(expires_at, now)
    partner_accounts_ensure(partner_id)
    digest = request_hash(
        "earn", earn_payload(member_id, partner_id, points, expires_at, external_ref)
    )
    return EARN_SQL, {
        "member": Int8(member_id),
        "partner": Int8(partner_id),
        "points": Int8(points),
        "expires": expires_at,
        "ref": external_ref,
        "memo": memo,
        "scope": idempotency.scope if idempotency else None,
        "key": idempotency.key if idempotency else None,
        "hash": digest,
        "lot_seq": id_sequence("ledger_lot"),
    }


def earn_gated_statement(
    gate: tuple[str, dict[str, Any]], **earn_args: Any
) -> tuple[str, dict[str, Any]]:
    """``earn_statement`` behind the caller's gate, in one statement: ``gate`` is a
    statement of the caller's (typically an ``UPDATE ... RETURNING``, its
    placeholders named apart from the earn's) that runs first, and the points are
    posted only if it returned a row. No savepoint and no second round trip: a
    purchase takes a budgeted campaign's points from its bucket this way. Its one
    row: whether the gate passed, then the earn's row (``earn_posting`` reads it),
    NULLs when nothing was posted. A gate that did not pass leaves the caller to
    undo what it did (a purchase rolls its transaction back)."""
    gate_sql, gate_params = gate
    _, params = earn_statement(**earn_args)
    clash = params.keys() & gate_params.keys()
    if clash:
        raise ValueError(f"the gate's parameters {sorted(clash)} clash with the earn's")
    return _gated_earn_sql(gate_sql), {**params, **gate_params}


def _diagnose_earn_refusal(member_id: int, partner_id: int) -> None:
    row = driver_sql.fetchone(
        """
        SELECT m.status, a.id FROM public.members_member m
          LEFT JOIN public.ledger_account a ON a.member_id = m.id AND a.kind = 'wallet'
         WHERE m.id = %s
        """,
        [member_id],
    )
    if row is None or row[1] is None:
        raise UnknownMember("no such member")
    if row[0] != MemberStatus.ACTIVE:
        raise MemberNotActive(f"the member is {row[0]}")
    require_active_partner(partner_id)


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
    if not on_its_own and not savepoint:
        # A failure breaks the caller's transaction, which rolls back.
        return earn_posting(driver_sql.prepared(EARN_SQL, params), points)

    def attempt() -> Posting | None:
        try:
            if on_its_own:
                row = driver_sql.prepared(EARN_SQL, params)
            else:
                with transaction.atomic():
                    row = driver_sql.prepared(EARN_SQL, params)
        except IntegrityError as exc:
            winner = replay_of_key_race(exc, idem, digest)
            if winner is None:
                raise
            return winner
        return earn_posting(row, points)

    return retrying(attempt, nested=not on_its_own)


def earn_posting(row: tuple[Any, ...] | None, points: int) -> Posting | None:
    """The posting of an earn statement's row (None: nothing was posted)."""
    if row is None:
        return None
    return Posting(
        int(row[0]),
        TransactionKind.EARN,
        points,
        {"balance_after": int(row[1]), "lot": int(row[2])},
    )
