"""What the payment of a settlement statement is called on the partner's and the
operator's settlement pages; each console colours the states its own way."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext_lazy

from coalition.settlement.models import PaymentStatus

PAYMENT_WORDS = {
    PaymentStatus.NOTHING_DUE: gettext_lazy("Nothing due"),
    PaymentStatus.PENDING: gettext_lazy("To be paid"),
    PaymentStatus.INVOICED: gettext_lazy("Invoiced"),
    PaymentStatus.TRANSFER_SENT: gettext_lazy("Transfer sent"),
    PaymentStatus.PAID: gettext_lazy("Paid"),
    PaymentStatus.FAILED: gettext_lazy("Invoice not paid"),
    PaymentStatus.REVERSED: gettext_lazy("Payment reversed"),
    PaymentStatus.PAYOUT_ERROR: gettext_lazy("Payment refused, retrying"),
}


def payment_tag(status: str, tags: Mapping[PaymentStatus, str]) -> dict[str, str]:
    """The payment state's words and its tag's CSS class in ``tags`` (none if absent)."""
    return {
        "label": str(PAYMENT_WORDS.get(PaymentStatus(status), status)),
        "css": tags.get(PaymentStatus(status), ""),
    }
