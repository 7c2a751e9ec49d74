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

One module per operation, over a shared core: ``posting`` (wallets, journal,
lots, idempotent execution), ``accounts``, ``retry`` (the one retry loop);
``earning`` (the hottest path, a single SQL statement), ``bulk_earning``,
``spending`` (burn and donate, and the spend path holds share), ``holds``,
``reversals``, ``transfers``, ``expiry``, ``adjusting`` (a partner's
adjustments: credits like an earn, debits like a return), ``goodwill`` (coalition-funded
credits: a lot with no issuer). Callers import this package and call
``services.<operation>``; the operations are re-exported here.
"""

from __future__ import annotations

from coalition.ledger.services.accounts import (
    coalition_accounts_ensure,
    forget_known_accounts,
    partner_accounts_ensure,
)
from coalition.ledger.services.adjusting import ADJUSTMENT_KINDS, adjust
from coalition.ledger.services.bulk_earning import EarnRequest, earn_batch
from coalition.ledger.services.earning import (
    earn,
    earn_gated_statement,
    earn_posting,
    earn_statement,
)
from coalition.ledger.services.expiry import lots_expire, member_lots_expire
from coalition.ledger.services.goodwill import goodwill_credit
from coalition.ledger.services.holds import hold_authorize, hold_capture, hold_void, holds_expire
from coalition.ledger.services.posting import Posting
from coalition.ledger.services.retry import MAX_ATTEMPTS, retrying
from coalition.ledger.services.reversals import REVERSAL_KINDS, reverse
from coalition.ledger.services.spending import burn, donate
from coalition.ledger.services.transfers import transfer, transfer_replay

__all__ = [
    "ADJUSTMENT_KINDS",
    "MAX_ATTEMPTS",
    "REVERSAL_KINDS",
    "EarnRequest",
    "Posting",
    "adjust",
    "burn",
    "coalition_accounts_ensure",
    "donate",
    "earn",
    "earn_batch",
    "earn_gated_statement",
    "earn_posting",
    "earn_statement",
    "forget_known_accounts",
    "goodwill_credit",
    "hold_authorize",
    "hold_capture",
    "hold_void",
    "holds_expire",
    "lots_expire",
    "member_lots_expire",
    "partner_accounts_ensure",
    "retrying",
    "reverse",
    "transfer",
    "transfer_replay",
]
