"""Returns of a purchase's units, and the points they take back.

A return reverses the points the returned units earned. At recording, the engine
attributes the awarded points to the lines (``engine.attribute_points``: line
rules to their line, receipt-level points by the lines' points, whole points
adding up exactly to the award) and the attribution is stored in the purchase's
breakdown; the first ``k`` of a line's ``q`` units carry ``points * k // q``. A
return reverses what all units returned so far carry, less what was reversed
before, so repeated partial returns never drift, never exceed the award, and a
full return reverses exactly what was awarded.

Purchases recorded before attributions were stored are re-attributed at each
return from what was stored (their lines, the published, immutable rule version
they earned under, and the campaign points granted): the same split a purchase
recorded today stores. Where earlier returns of such a purchase reversed more by
the old money-share rule than the returned units carry, later returns reverse
nothing until the units returned carry more; the last return lands exactly on the
award.

Points the member already spent are not taken below zero: the ledger takes back
what is left and the rest is recorded as a recoverable ``PointsShortfall`` for
the partner.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from coalition.ledger import services as ledger
from coalition.ledger.errors import IdempotencyKeyReused
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.earning import engine
from tenants.earning.selectors import campaigns_by_id, engine_rules
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


def _return_under_key(idempotency: IdempotencyKey) -> PurchaseReturn | None:
    return PurchaseReturn.objects.filter(
        idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
    ).first()


def _replayed(earlier: PurchaseReturn) -> ReturnResult:
    """The answer a repeat of an earlier return gets: what that one recorded."""
    return ReturnResult(
        earlier.pk,
        earlier.value,
        earlier.points_requested,
        earlier.points_reversed,
        earlier.shortfall,
        replayed=True,
    )


def _attribution(
    purchase: Purchase, lines: list[PurchaseLine]
) -> dict[int, engine.LineAttribution]:
    """The awarded points each line carries (by line id): as stored when the
    purchase was recorded, or, for a purchase recorded before attributions were
    stored, re-attributed from what was stored then (its lines, the published
    rule version it earned under, immutable, and the campaign points it was
    granted): the same split a purchase recorded today stores."""
    stored = purchase.breakdown.get("attribution")
    if stored is not None:
        points = {int(item["line"]): int(item["points"]) for item in stored}
        return {
            line.pk: engine.LineAttribution(
                line.line_number, line.quantity, points.get(line.line_number, 0)
            )
            for line in lines
        }
    basket = engine.Basket(
        currency=purchase.currency,
        lines=tuple(
            engine.BasketLine(
                line.sku, line.category, line.quantity, line.unit_price, line.discount
            )
            for line in lines
        ),
        total=purchase.total,
        tax=purchase.tax,
        tip=purchase.tip,
        paid_with_points=purchase.paid_with_points,
    )
    rules = engine_rules(purchase.rule_version) if purchase.rule_version is not None else []
    granted = {
        int(key): int(value)
        for key, value in (purchase.breakdown.get("campaign_points") or {}).items()
        if int(value) > 0
    }
    rule_points = purchase.rule_points
    if rule_points + sum(granted.values()) != purchase.points_awarded:
        # A record whose parts do not add up to its award: spread the award as a
        # whole, so a full return still lands exactly on it.
        rule_points, granted = purchase.points_awarded, {}
    attribution = engine.attribute_points(
        basket,
        rules,
        campaigns_by_id(granted),
        rule_points=rule_points,
        campaign_points=granted,
    )
    return {line.pk: attributed for line, attributed in zip(lines, attribution, strict=True)}


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
        existing = _return_under_key(idempotency)
        if existing is not None:
            if existing.request_hash != digest:
                raise IdempotencyKeyReused(
                    f"idempotency key {idempotency.key!r} was used for a different return"
                )
            return _replayed(existing)
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
                    raise InvalidReturn(f"purchase {external_id} has no line {number}", line=number)
                if quantity <= 0:
                    raise InvalidReturn(
                        f"line {number}: return quantity must be positive", line=number
                    )
                if quantity > line.quantity - line.returned_quantity:
                    raise InvalidReturn(
                        f"line {number}: {quantity} returned but only "
                        f"{line.quantity - line.returned_quantity} left to return",
                        line=number,
                    )
            attribution = _attribution(purchase, all_lines)
            value = 0
            for number, quantity in lines.items():
                line = by_number[number]
                value += line.net * quantity // line.quantity
                line.returned_quantity += quantity
            # Cumulative: what every unit returned so far carries, less what was
            # reversed already (no drift; for a purchase recorded before
            # attributions, whose earlier returns went by money share, the
            # difference is caught up by the later returns).
            target = sum(
                attribution[line.pk].points_of_first_units(line.returned_quantity)
                for line in all_lines
            )
            if all(line.returned_quantity == line.quantity for line in all_lines):
                target = purchase.points_awarded
            requested = max(0, min(target, purchase.points_awarded) - purchase.points_reversed)
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
        # the same return sent twice at once: the other request recorded it
        if idempotency is not None:
            existing = _return_under_key(idempotency)
            if existing is not None and existing.request_hash == digest:
                return _replayed(existing)
        raise
    return ReturnResult(
        record.pk, record.value, record.points_requested, record.points_reversed, record.shortfall
    )
