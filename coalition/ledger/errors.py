"""Typed errors of the ledger; ``code`` is what API clients branch on.

Member problems (unknown, blocked) reuse ``coalition.members.errors``.
"""

from __future__ import annotations

from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKeyReused

__all__ = ["IdempotencyKeyReused"]  # re-exported: the ledger raises the kernel's one class


class LedgerError(DomainError):
    code = "ledger_error"


class AmountNotPositive(LedgerError):
    code = "amount_not_positive"
    field = "points"


class InsufficientPoints(LedgerError):
    code = "insufficient_points"
    field = "points"


class UnknownPartner(LedgerError):
    code = "unknown_partner"
    field = "partner"


class PartnerNotActive(LedgerError):
    code = "partner_not_active"
    field = "partner"


class UnknownHold(LedgerError):
    code = "unknown_hold"
    field = "hold"


class HoldAlreadyResolved(LedgerError):
    code = "hold_already_resolved"
    field = "hold"


class HoldExpired(LedgerError):
    code = "hold_expired"
    field = "hold"


class CaptureExceedsHold(LedgerError):
    code = "capture_exceeds_hold"
    field = "points"


class InvalidExpiry(LedgerError):
    code = "invalid_expiry"
    field = "expires_at"


class UnknownTransaction(LedgerError):
    code = "unknown_transaction"
    field = "transaction"


class NotReversible(LedgerError):
    code = "not_reversible"
    field = "transaction"


class ReversalExceedsOriginal(LedgerError):
    code = "reversal_exceeds_original"
    field = "points"


class TransferToSelf(LedgerError):
    code = "transfer_to_self"
    field = "to_member"


class WrongPartner(LedgerError):
    code = "wrong_partner"
    field = "partner"


class LedgerInconsistent(LedgerError):
    """The database did not return what the ledger's own rules guarantee (a hold
    without its authorisation, a statement that always returns a row returning
    none). Nothing was posted; ``loyalty verify-ledger`` names what is broken."""

    code = "ledger_inconsistent"
