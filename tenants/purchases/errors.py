"""Typed errors of the purchases app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class PurchaseError(DomainError):
    code = "purchase_error"


class InvalidReceipt(PurchaseError):
    code = "invalid_receipt"


class NoRulesInForce(PurchaseError):
    code = "no_rules_in_force"
    field = "occurred_at"


class DuplicateReceipt(PurchaseError):
    code = "duplicate_receipt"
    field = "external_id"


class UnknownPurchase(PurchaseError):
    code = "unknown_purchase"
    field = "purchase"


class InvalidReturn(PurchaseError):
    code = "invalid_return"
    field = "lines"

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None):
        super().__init__(message, field=field)
        # The line number the return got wrong, when it is one line (a form shows
        # the message next to that line's quantity).
        self.line = line
