"""Earning in batches: many earns in one database transaction with a handful of
set-based statements whatever the batch size, all or nothing, idempotent per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from coalition.ledger.errors import IdempotencyKeyReused, PartnerNotActive, UnknownPartner
from coalition.ledger.models import TransactionKind
from coalition.ledger.services.accounts import forget_known_accounts, partner_accounts_ensure
from coalition.ledger.services.earning import earn, earn_payload, require_valid_expiry
from coalition.ledger.services.posting import (
    Posting,
    as_dict,
    id_sequence,
    is_idempotency_violation,
    lock_wallets,
    require_positive,
)
from coalition.ledger.services.retry import retrying
from loyalty_kernel import clock, driver_sql
from loyalty_kernel.idempotency import IdempotencyKey, request_hash
from tenants.partners.models import PartnerStatus


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


def earn_batch(items: Sequence[EarnRequest], *, now: datetime | None = None) -> list[Posting]:
    """Post many earns in one database transaction, with a handful of set-based
    statements whatever the batch size; return one Posting per item, in order.

    All or nothing: an invalid item (typed error as ``earn`` raises it: points,
    expiry, unknown or inactive member or partner, a key reused with another
    request) posts none of them. Idempotency is per item: an item whose key was
    posted before (by ``earn`` or an earlier batch) replays its stored result; the
    same key twice in one batch posts once. If a concurrent request takes one of
    the keys meanwhile, the batch is posted item by item instead (still in one
    transaction), so that item replays the winner's result. Expiries must lie after
    ``now`` (default: the application clock), as for ``earn``.
    """
    items = list(items)
    now = now or clock.now()
    for item in items:
        require_positive(item.points)
        require_valid_expiry(item.expires_at, now)
    if not items:
        return []
    digests = [
        request_hash(
            "earn",
            earn_payload(
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

    def attempt() -> dict[int, Posting]:
        with transaction.atomic():
            return _post_earn_batch(items, digests, firsts)

    try:
        posted = retrying(attempt, nested=nested)
    except IntegrityError as exc:
        if not is_idempotency_violation(exc):
            raise
        return retrying(lambda: _earn_one_by_one(items, now), nested=nested)
    return [
        replace(posted[duplicate_of[i]], replayed=True) if i in duplicate_of else posted[i]
        for i in range(len(items))
    ]


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
    rows = {int(row[0]): (row[1], row[2]) for row in driver_sql.fetchall(query, [ids])}
    if any(row[1] is None for row in rows.values()):
        # Cached as opened, but a rollback removed them since: open them again.
        forget_known_accounts()
        for partner_id in ids:
            partner_accounts_ensure(partner_id)
        rows = {int(row[0]): (row[1], row[2]) for row in driver_sql.fetchall(query, [ids])}
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
    keyed = [(i, idem) for i in indexes if (idem := items[i].idempotency) is not None]
    if not keyed:
        return {}
    rows = driver_sql.fetchall(
        """
        SELECT k.ord, t.id, t.kind, t.points, t.request_hash, t.result
          FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS k(scope, key, ord)
          JOIN public.ledger_transaction t
            ON t.idempotency_scope = k.scope AND t.idempotency_key = k.key
        """,
        [[idem.scope for _, idem in keyed], [idem.key for _, idem in keyed]],
    )
    replays: dict[int, Posting] = {}
    for ordinal, tx_id, kind, points, digest, result in rows:
        index, idem = keyed[int(ordinal) - 1]
        if digest != digests[index]:
            raise IdempotencyKeyReused(
                f"idempotency key {idem.key!r} was used for a different request "
                f"in scope {idem.scope!r}"
            )
        replays[index] = Posting(int(tx_id), kind, int(points), as_dict(result), replayed=True)
    return replays


def _post_earn_batch(
    items: Sequence[EarnRequest], digests: Sequence[str], firsts: Sequence[int]
) -> dict[int, Posting]:
    """Post the batch's first occurrences of each request (inside a transaction)."""
    postings = _batch_replays(items, digests, firsts)
    todo = [i for i in firsts if i not in postings]
    if not todo:
        return postings
    wallets = lock_wallets([items[i].member_id for i in todo], require_active=True)
    issuance = _issuance_accounts([items[i].partner_id for i in todo])
    running = {member_id: wallet.balance for member_id, wallet in wallets.items()}
    after = []
    for i in todo:
        running[items[i].member_id] += items[i].points
        after.append(running[items[i].member_id])
    batch = [items[i] for i in todo]
    rows = driver_sql.prepared_all(
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
            "tx_seq": id_sequence("ledger_transaction"),
            "lot_seq": id_sequence("ledger_lot"),
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


def _earn_one_by_one(items: Sequence[EarnRequest], now: datetime) -> list[Posting]:
    """The batch as single earns in one transaction (each replays or posts), in
    wallet-account order like every other multi-wallet lock."""
    members = sorted({item.member_id for item in items})
    account_of = {
        int(member): int(account)
        for member, account in driver_sql.fetchall(
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
                now=now,
            )
    return [postings[i] for i in range(len(items))]
