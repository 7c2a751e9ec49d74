"""Writes of the purchases app (call inside the partner's schema), by operation:

- ``receipts``: a till's receipt, its validation and its replay fingerprint;
- ``recording``: recording a purchase (priced with earning's pricing snapshot,
  posted to the ledger with the receipt in one transaction) and previewing one;
- ``returns``: returning units of a purchase and reversing their points.

Callers import from here.
"""

from __future__ import annotations

from tenants.purchases.services.receipts import (
    FUTURE_TOLERANCE,
    PurchaseResult,
    Receipt,
    ReceiptLine,
)
from tenants.purchases.services.recording import purchase_preview, purchase_record
from tenants.purchases.services.returns import ReturnResult, purchase_return

__all__ = [
    "FUTURE_TOLERANCE",
    "PurchaseResult",
    "Receipt",
    "ReceiptLine",
    "ReturnResult",
    "purchase_preview",
    "purchase_record",
    "purchase_return",
]
