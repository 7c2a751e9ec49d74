"""Returns of a purchase's units, and the points they take back.

A return reverses the returned part's points proportionally to its share of the
purchase's earning value (lines in categories the engine excluded weigh
nothing), computed cumulatively so repeated partial returns never drift by
rounding and a full return reverses exactly what was awarded. Points the member
already spent are not taken below zero: the ledger takes back what is left and
the rest is recorded as a recoverable ``PointsShortfall`` for the partner.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.db import IntegrityError, transaction

from coalition.ledger import services as ledger
from coalition.ledger.errors import IdempotencyKeyReused
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.earning import engine
from tenants.earning.selectors import engine_rules
from tenants.purchases.errors import InvalidReturn, UnknownPurchase
from tenants.purchases.models import (
    PointsShortfall,
    Purchase,
    PurchaseLine,
    PurchaseReturn,
    PurchaseReturnLine,
)
from tenants.purchases.services.receipts import current_partner


@dataclass(frozen=True)
class ReturnResult:
    return_id: int
    value: int
    points_requested: int
    points_reversed: int
    shortfall: int
    replayed: bool = field(default=False, compare=False)


def _line_weights(purchase: Purchase, lines: list[PurchaseLine]) -> dict[int, Decimal]:
    """Each line's share of what earned: its net amount, or 0 if its category was
    excluded by the rule version the purchase earned under."""
    excluded = (
        engine.excluded_categories(engine_rules(purchase.rule_version))
        if purchase.rule_version is not None
        else frozenset()
    )
    return {
        line.pk: Decimal(0) if line.category in excluded else Decimal(line.net) for line in lines
    }


def purchase_return(
    *,
    external_id: str,
    lines: dict[int, int],
    idempotency: IdempotencyKey | None = None,
    return_reference: str = "",
) -> ReturnResult:
    """Return quantities of a purchase's lines ({line number: quantity})."""
    if not lines:
        raise InvalidReturn("a return needs at least one line")
    digest = hashlib.sha256(
        json.dumps({"purchase": external_id, "lines": sorted(lines.items())}).encode()
    ).hexdigest()
    if idempotency is not None:
        existing = PurchaseReturn.objects.filter(
            idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
        ).first()
        if existing is not None:
            if existing.request_hash != digest:
                raise IdempotencyKeyReused(
                    f"idempotency key {idempotency.key!r} was used for a different return"
                )
            return ReturnResult(
                existing.pk,
                existing.value,
                existing.points_requested,
                existing.points_reversed,
                existing.shortfall,
                replayed=True,
            )
    partner = current_partner()
    try:
        with transaction.atomic():
            purchase = (
                Purchase.objects.select_for_update(of=("self",))
                .select_related("rule_version")
                .filter(external_id=external_id)
                .first()
            )
            if purchase is None:
                raise UnknownPurchase(f"no purchase {external_id}")
            all_lines = list(PurchaseLine.objects.filter(purchase=purchase).order_by("line_number"))
            by_number = {line.line_number: line for line in all_lines}
            for number, quantity in lines.items():
                line = by_number.get(number)
                if line is None:
                    raise InvalidReturn(f"purchase {external_id} has no line {number}")
                if quantity <= 0:
                    raise InvalidReturn(f"line {number}: return quantity must be positive")
                if quantity > line.quantity - line.returned_quantity:
                    raise InvalidReturn(
                        f"line {number}: {quantity} returned but only "
                        f"{line.quantity - line.returned_quantity} left to return"
                    )
            weights = _line_weights(purchase, all_lines)
            total_weight = sum(weights.values())
            value = 0
            for number, quantity in lines.items():
                line = by_number[number]
                value += line.net * quantity // line.quantity
                line.returned_quantity += quantity
            returned_weight = sum(
                weights[line.pk] * line.returned_quantity / line.quantity for line in all_lines
            )
            fully_returned = all(line.returned_quantity == line.quantity for line in all_lines)
            if fully_returned or total_weight == 0:
                target = purchase.points_awarded if fully_returned else purchase.points_reversed
            else:
                target = int(
                    (purchase.points_awarded * returned_weight / total_weight).to_integral_value(
                        ROUND_FLOOR
                    )
                )
            requested = max(0, target - purchase.points_reversed)
            record = PurchaseReturn.objects.create(
                purchase=purchase,
                external_id=return_reference,
                value=value,
                points_requested=requested,
                points_reversed=0,
                shortfall=0,
                idempotency_scope=idempotency.scope if idempotency else None,
                idempotency_key=idempotency.key if idempotency else None,
                request_hash=digest,
            )
            PurchaseReturnLine.objects.bulk_create(
                PurchaseReturnLine(
                    purchase_return=record,
                    line=by_number[number],
                    quantity=quantity,
                    value=by_number[number].net * quantity // by_number[number].quantity,
                )
                for number, quantity in lines.items()
            )
            for number in lines:
                by_number[number].save(update_fields=["returned_quantity"])
            if requested and purchase.ledger_transaction_id is not None:
                posting = ledger.reverse(
                    transaction_id=purchase.ledger_transaction_id,
                    points=requested,
                    allow_shortfall=True,
                    idempotency=IdempotencyKey(f"partner:{partner.pk}:return", str(record.pk)),
                    memo=f"return of {external_id}",
                )
                record.points_reversed = int(posting.result["reversed"])
                record.shortfall = int(posting.result["shortfall"])
                record.ledger_transaction_id = posting.transaction_id
                record.save(update_fields=["points_reversed", "shortfall", "ledger_transaction_id"])
                if record.shortfall:
                    PointsShortfall.objects.create(
                        purchase_return=record,
                        member_id=purchase.member_id,
                        points=record.shortfall,
                    )
                purchase.points_reversed += requested
                purchase.save(update_fields=["points_reversed"])
    except IntegrityError:
        if idempotency is not None:
            existing = PurchaseReturn.objects.filter(
                idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
            ).first()
            if existing is not None and existing.request_hash == digest:
                return ReturnResult(
                    existing.pk,
                    existing.value,
                    existing.points_requested,
                    existing.points_reversed,
                    existing.shortfall,
                    replayed=True,
                )
        raise
    return ReturnResult(
        record.pk, record.value, record.points_requested, record.points_reversed, record.shortfall
    )
