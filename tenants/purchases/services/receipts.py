"""Receipts as tills send them: their shape, what makes one valid, the member they
name, and the fingerprint a replay of the same receipt must match."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.utils import timezone
from psycopg.types.numeric import Int8

from coalition.members.errors import UnknownMember
from coalition.members.numbers import is_valid_member_number
from loyalty_kernel.tenancy import current_tenant
from tenants.earning import engine
from tenants.purchases.errors import InvalidReceipt, PurchaseError
from tenants.purchases.models import Channel

# A till's clock may run a little ahead of ours.
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class ReceiptLine:
    sku: str
    category: str
    quantity: int
    unit_price: int
    discount: int = 0


@dataclass(frozen=True)
class Receipt:
    """A till's receipt. The member is given by id, or by member number (partner
    apps know the number from the card; the purchase resolves it in the same
    statement that takes the member's lock)."""

    external_id: str
    member_id: int | None
    occurred_at: datetime
    currency: str
    lines: tuple[ReceiptLine, ...]
    total: int
    tax: int = 0
    tip: int = 0
    paid_with_points: int = 0
    channel: str = Channel.POS
    store_code: str | None = None
    member_number: str = ""

    @cached_property
    def basket(self) -> engine.Basket:
        """The receipt as the engine prices it; built once (validating, pricing
        and attributing the points each read it)."""
        return engine.Basket(
            currency=self.currency,
            lines=tuple(
                engine.BasketLine(
                    line.sku, line.category, line.quantity, line.unit_price, line.discount
                )
                for line in self.lines
            ),
            total=self.total,
            tax=self.tax,
            tip=self.tip,
            paid_with_points=self.paid_with_points,
        )

    def request_hash(self) -> str:
        """What a replay must match: the receipt with its member resolved to an id
        (a retry may name the member by id or by number)."""
        if self.member_id is None:
            raise PurchaseError("a receipt's fingerprint needs its member resolved to an id")
        # The fields by hand (dataclasses.asdict deep-copies: slow on the hot path);
        # the text is the same as it always was, so stored hashes keep matching.
        payload = {
            "external_id": self.external_id,
            "member_id": self.member_id,
            "occurred_at": self.occurred_at.isoformat(),
            "currency": self.currency,
            "lines": [
                {
                    "sku": line.sku,
                    "category": line.category,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "discount": line.discount,
                }
                for line in self.lines
            ],
            "total": self.total,
            "tax": self.tax,
            "tip": self.tip,
            "paid_with_points": self.paid_with_points,
            "channel": self.channel,
            "store_code": self.store_code,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PurchaseResult:
    purchase_id: int
    external_id: str
    points: int
    rule_points: int
    campaign_points: int
    balance_after: int | None
    rule_version: int | None
    breakdown: dict[str, Any] = field(compare=False)
    replayed: bool = field(default=False, compare=False)


def current_partner() -> Any:
    """The partner whose site the call came through (purchases live in its schema)."""
    partner = current_tenant()
    if getattr(partner, "pk", None) is None:
        raise PurchaseError("purchases are recorded on a partner's site, not the public one")
    return partner


def validate_receipt(receipt: Receipt, now: datetime) -> None:
    if not receipt.external_id or len(receipt.external_id) > 120:
        raise InvalidReceipt("external_id must be 1-120 characters", field="external_id")
    if timezone.is_naive(receipt.occurred_at):
        raise InvalidReceipt("occurred_at needs a time zone", field="occurred_at")
    if receipt.occurred_at > now + FUTURE_TOLERANCE:
        raise InvalidReceipt("occurred_at is in the future", field="occurred_at")
    if receipt.channel not in Channel.values:
        raise InvalidReceipt(f"unknown channel {receipt.channel!r}", field="channel")
    receipt.basket.validate()


def lines_json(lines: tuple[ReceiptLine, ...]) -> str:
    """The receipt's lines as one JSON array of [sku, category, quantity, unit
    price, discount] (a purchase's insert unpacks it): one text parameter where five
    arrays were, which psycopg dumped element by element (21 us for five lines
    against 5 us, measured). A NUL in a text is refused by the server either way,
    as input it cannot store."""
    return json.dumps(
        [
            [line.sku, line.category, line.quantity, line.unit_price, line.discount]
            for line in lines
        ],
        separators=(",", ":"),
    )


def member_key(receipt: Receipt) -> tuple[tuple[str, Any], UnknownMember]:
    """How the statements find the receipt's member (by id, or by number), and
    the error to raise when nobody is found that way."""
    if receipt.member_id is not None:
        return ("id", Int8(receipt.member_id)), UnknownMember("no such member")
    number = receipt.member_number.strip()
    unknown = UnknownMember(f"no member with number {number!r}", field="member_number")
    if not is_valid_member_number(number):
        raise unknown
    return ("member_number", number), unknown
