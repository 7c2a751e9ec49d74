"""The journal's hash chain: tamper evidence without a lock on the write path.

Posting never touches the chain. A Celery task seals committed transactions in
batches: each link hashes the previous link's hash with the transaction's
canonical content (header and entries), so altering any sealed entry, header or
their order breaks every later link. A transaction that commits late (after
higher ids were sealed) simply gets the next position.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction

GENESIS = "0" * 64
SEAL_LOCK_KEY = 7_310_001  # advisory lock: one sealer at a time
# Transactions may commit out of id order; look back this far below the highest
# sealed id for late ones (a posting transaction lives milliseconds).
LATE_COMMIT_WINDOW = 100_000

HEADER_COLUMNS = (
    "id, kind, partner_id, member_id, points, external_ref, reverses_id, hold_id, "
    "idempotency_scope, idempotency_key, request_hash, created_at, memo, result"
)


def _canonical_json(value: Any) -> str:
    # jsonb may arrive as text or as a dict, with keys in any order.
    data = json.loads(value) if isinstance(value, str) else value
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def canonical(header: Sequence[Any], entries: Iterable[tuple[int, int, int]]) -> str:
    """Stable text of a transaction: every header field (the memo and the result
    the caller was told included), then entries by id."""
    (tx_id, kind, partner, member, points, ref, reverses, hold, scope, key, digest, created,
     memo, result) = header  # fmt: skip
    fields = [tx_id, kind, partner, member, points, ref, reverses, hold, scope, key, digest]
    text = "|".join("" if value is None else str(value) for value in fields)
    text += "|" + created.isoformat() + "|" + (memo or "") + "|" + _canonical_json(result)
    legs = ";".join(f"{account}:{amount}" for _, account, amount in sorted(entries))
    return f"{text}#{legs}"


def link_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def entries_by_transaction(cursor: Any, ids: list[int]) -> dict[int, list[tuple[int, int, int]]]:
    cursor.execute(
        """
        SELECT transaction_id, id, account_id, amount FROM public.ledger_entry
         WHERE transaction_id = ANY(%s)
        """,
        [ids],
    )
    grouped: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for tx_id, entry_id, account, amount in cursor.fetchall():
        grouped[tx_id].append((entry_id, account, amount))
    return grouped


def seal(*, batch: int = 5000) -> int:
    """Append the committed, unsealed transactions to the chain; return how many.

    Safe to run concurrently: a second sealer finds the advisory lock taken and
    returns 0.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(
            """
            SELECT position, hash, (SELECT max(transaction_id) FROM public.ledger_chainlink)
              FROM public.ledger_chainlink ORDER BY position DESC LIMIT 1
            """
        )
        last = cursor.fetchone()
        position, prev_hash, max_sealed = (last[0], last[1], last[2]) if last else (0, GENESIS, 0)
        cursor.execute(
            f"""
            SELECT {HEADER_COLUMNS} FROM public.ledger_transaction t
             WHERE t.id > %s
               AND NOT EXISTS (
                   SELECT 1 FROM public.ledger_chainlink c WHERE c.transaction_id = t.id
               )
             ORDER BY t.id LIMIT %s
            """,  # noqa: S608 - constant column list
            [max(0, max_sealed - LATE_COMMIT_WINDOW), batch],
        )
        headers = cursor.fetchall()
        if not headers:
            return 0
        entries = entries_by_transaction(cursor, [row[0] for row in headers])
        links = []
        for header in headers:
            position += 1
            digest = link_hash(prev_hash, canonical(header, entries.get(header[0], [])))
            links.append((header[0], position, prev_hash, digest))
            prev_hash = digest
        cursor.execute(
            """
            INSERT INTO public.ledger_chainlink
                (transaction_id, position, prev_hash, hash, sealed_at)
            SELECT * , now() FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])
            """,
            [[link[i] for link in links] for i in range(4)],
        )
    return len(links)


def seal_all(*, batch: int = 5000) -> int:
    total = 0
    while sealed := seal(batch=batch):
        total += sealed
    return total
