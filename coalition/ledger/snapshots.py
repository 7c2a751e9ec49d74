"""Balance snapshots of derived-balance (hot) accounts at a safe watermark, so
their balance is a snapshot plus a short tail of entries."""

from __future__ import annotations

from django.db import connection, transaction

from coalition.ledger.selectors import safe_watermark


def snapshot_derived_accounts() -> int:
    """Snapshot every non-wallet account that moved since its last snapshot."""
    watermark = safe_watermark()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO public.ledger_accountsnapshot
                (account_id, as_of_transaction_id, balance, created_at)
            SELECT a.id, %(w)s, coalesce(s.balance, 0) + sum(e.amount), now()
              FROM public.ledger_account a
              LEFT JOIN LATERAL (
                  SELECT as_of_transaction_id, balance FROM public.ledger_accountsnapshot
                   WHERE account_id = a.id ORDER BY as_of_transaction_id DESC LIMIT 1
              ) s ON true
              JOIN public.ledger_entry e
                ON e.account_id = a.id
               AND e.transaction_id > coalesce(s.as_of_transaction_id, 0)
               AND e.transaction_id <= %(w)s
             WHERE a.kind <> 'wallet'
             GROUP BY a.id, s.balance
            ON CONFLICT (account_id, as_of_transaction_id) DO NOTHING
            """,
            {"w": watermark},
        )
        return int(cursor.rowcount)
