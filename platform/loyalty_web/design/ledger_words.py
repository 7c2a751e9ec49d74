"""What each kind of ledger transaction means to a person, in the words the
console and the member portal both show."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from coalition.ledger.models import TransactionKind

# The member-facing name of each kind of ledger transaction.
KIND_LABELS: dict[str, Any] = {
    TransactionKind.EARN: _("Points earned"),
    TransactionKind.BURN: _("Points spent"),
    TransactionKind.HOLD: _("Points held at a till"),
    TransactionKind.CAPTURE: _("Held points taken"),
    TransactionKind.VOID: _("Held points released"),
    TransactionKind.HOLD_EXPIRY: _("Hold expired"),
    TransactionKind.EARN_REVERSAL: _("Points taken back (return)"),
    TransactionKind.BURN_REVERSAL: _("Spent points given back"),
    TransactionKind.TRANSFER: _("Transfer between members"),
    TransactionKind.TRANSFER_REVERSAL: _("Transfer reversed"),
    TransactionKind.EXPIRY: _("Points expired"),
    TransactionKind.DONATION: _("Donation to a charity"),
    TransactionKind.ADJUSTMENT_CREDIT: _("Points added by the partner"),
    TransactionKind.ADJUSTMENT_DEBIT: _("Points taken back by the partner"),
    TransactionKind.GOODWILL_CREDIT: _("Points given by the coalition"),
}


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else kind
