"""Recording purchases and returns at a partner (call inside the partner's schema).

A purchase is validated, priced in points with the rule version in force when it
*happened* (``occurred_at``), and posted to the ledger in the same database
transaction as the receipt, so either both exist or neither. Campaign budgets are
taken under a row lock, so concurrent purchases never overspend them.

Returns reverse the returned part's points proportionally to its share of the
purchase's earning value (lines in excluded categories weigh nothing), computed
cumulatively so repeated partial returns never drift by rounding and a full return
reverses exactly what was awarded. Points the member already spent are not taken
below zero: the ledger takes back what is left and the rest is recorded as a
recoverable ``PointsShortfall`` for the partner.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from coalition.expiry.services import lot_expiry_for
from coalition.ledger import services as ledger
from coalition.ledger.errors import IdempotencyKeyReused, PartnerNotActive
from coalition.ledger.idempotency import IdempotencyKey
from coalition.ledger.models import Transaction as LedgerTransaction
from coalition.members.errors import MemberNotActive, UnknownMember
from coalition.members.models import Member
from coalition.tiers.services import tier_code_of, tier_evaluate
from loyalty_graphql import webhooks
from loyalty_platform.errors import DomainError
from loyalty_platform.schemas import current_tenant
from tenants.earning import engine
from tenants.earning.models import Campaign
from tenants.earning.selectors import (
    campaigns_running,
    engine_rules,
    member_segments,
    version_in_force,
)
from tenants.purchases.models import (
    Channel,
    PointsShortfall,
    Purchase,
    PurchaseLine,
    PurchaseReturn,
    PurchaseReturnLine,
)
from tenants.stores.models import Store

FUTURE_TOLERANCE = timedelta(minutes=5)


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


@dataclass(frozen=True)
class ReceiptLine:
    sku: str
    category: str
    quantity: int
    unit_price: int
    discount: int = 0


@dataclass(frozen=True)
class Receipt:
    external_id: str
    member_id: int
    occurred_at: datetime
    currency: str
    lines: tuple[ReceiptLine, ...]
    total: int
    tax: int = 0
    tip: int = 0
    paid_with_points: int = 0
    channel: str = Channel.POS
    store_code: str | None = None

    def basket(self) -> engine.Basket:
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
        payload = asdict(self)
        payload["occurred_at"] = self.occurred_at.isoformat()
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


def _partner() -> Any:
    partner = current_tenant()
    if getattr(partner, "pk", None) is None:
        raise PurchaseError("purchases are recorded on a partner's site, not the public one")
    return partner


def _validate_receipt(receipt: Receipt, now: datetime) -> None:
    if not receipt.external_id or len(receipt.external_id) > 120:
        raise InvalidReceipt("external_id must be 1-120 characters", field="external_id")
    if timezone.is_naive(receipt.occurred_at):
        raise InvalidReceipt("occurred_at needs a time zone", field="occurred_at")
    if receipt.occurred_at > now + FUTURE_TOLERANCE:
        raise InvalidReceipt("occurred_at is in the future", field="occurred_at")
    if receipt.channel not in Channel.values:
        raise InvalidReceipt(f"unknown channel {receipt.channel!r}", field="channel")
    receipt.basket().validate()


def _member(member_id: int) -> Member:
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        raise UnknownMember(f"no member with id {member_id}")
    if not member.is_active:
        raise MemberNotActive(f"member {member_id} is {member.status}")
    return member


def _context(receipt: Receipt, partner: Any) -> engine.EarnContext:
    zone = ZoneInfo(partner.time_zone or "UTC")
    local_day = receipt.occurred_at.astimezone(zone).date()
    day_start = datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone)
    today = Purchase.objects.filter(
        member_id=receipt.member_id,
        occurred_at__gte=day_start,
        occurred_at__lt=day_start + timedelta(days=1),
    ).aggregate(points=Sum("rule_points"))["points"]
    return engine.EarnContext(
        occurred_at=receipt.occurred_at,
        tier=tier_code_of(receipt.member_id),
        segments=member_segments(receipt.member_id),
        is_first_purchase=not Purchase.objects.filter(member_id=receipt.member_id).exists(),
        points_earned_today=int(today or 0),
    )


def _price(receipt: Receipt, partner: Any) -> tuple[Any, engine.Breakdown]:
    version = version_in_force(receipt.occurred_at)
    if version is None:
        raise NoRulesInForce("no earn rules were in force when this purchase happened")
    breakdown = engine.points_for_purchase(
        receipt.basket(),
        engine_rules(version),
        campaigns_running(receipt.occurred_at),
        _context(receipt, partner),
    )
    return version, breakdown


def purchase_preview(receipt: Receipt, *, now: datetime | None = None) -> engine.Breakdown:
    """The points this basket would earn now, posting nothing."""
    _validate_receipt(receipt, now or timezone.now())
    _member(receipt.member_id)
    _, breakdown = _price(receipt, _partner())
    return breakdown


def _result_of(purchase: Purchase, *, replayed: bool) -> PurchaseResult:
    return PurchaseResult(
        purchase_id=purchase.pk,
        external_id=purchase.external_id,
        points=purchase.points_awarded,
        rule_points=purchase.rule_points,
        campaign_points=purchase.campaign_points,
        balance_after=purchase.breakdown.get("balance_after"),
        rule_version=purchase.rule_version.number if purchase.rule_version else None,
        breakdown=purchase.breakdown,
        replayed=replayed,
    )


def _replay(
    idempotency: IdempotencyKey | None, receipt: Receipt, digest: str
) -> PurchaseResult | None:
    existing = None
    if idempotency is not None:
        existing = (
            Purchase.objects.select_related("rule_version")
            .filter(idempotency_scope=idempotency.scope, idempotency_key=idempotency.key)
            .first()
        )
        if existing is not None and existing.request_hash != digest:
            raise IdempotencyKeyReused(
                f"idempotency key {idempotency.key!r} was used for a different purchase"
            )
    if existing is None:
        existing = (
            Purchase.objects.select_related("rule_version")
            .filter(external_id=receipt.external_id)
            .first()
        )
        if existing is not None and existing.request_hash != digest:
            raise DuplicateReceipt(
                f"receipt {receipt.external_id} was recorded already, with other content"
            )
    return _result_of(existing, replayed=True) if existing is not None else None


def _take_campaign_budget(campaign_points: dict[int, int]) -> dict[int, int]:
    """Grant each campaign what it wants, clipped to its remaining budget.

    A budgeted campaign's counter is a hot row that every purchase getting its
    points updates: the caller takes it last in its transaction (just before the
    ledger earn and the commit), so the row is locked for a few statements, not
    the whole purchase. Rows are locked in id order: no deadlocks. Unbudgeted
    campaigns are never touched (their total is the sum over purchases'
    breakdowns).
    """
    granted: dict[int, int] = {}
    budgeted = set(
        Campaign.objects.filter(pk__in=campaign_points, budget_points__isnull=False).values_list(
            "pk", flat=True
        )
    )
    for campaign_id in sorted(campaign_points):
        wanted = campaign_points[campaign_id]
        if campaign_id not in budgeted:
            granted[campaign_id] = wanted
            continue
        campaign = Campaign.objects.select_for_update().only("budget_points", "issued_points")
        locked = campaign.get(pk=campaign_id)
        assert locked.budget_points is not None
        give = min(wanted, max(0, locked.budget_points - locked.issued_points))
        if give:
            Campaign.objects.filter(pk=campaign_id).update(
                issued_points=locked.issued_points + give
            )
            granted[campaign_id] = give
    return granted


def purchase_record(
    receipt: Receipt,
    *,
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
) -> PurchaseResult:
    """Record a receipt and post its points. Replaying the same receipt (same
    idempotency key, or same external id) returns the original result."""
    now = now or timezone.now()
    _validate_receipt(receipt, now)
    digest = receipt.request_hash()
    replay = _replay(idempotency, receipt, digest)
    if replay is not None:
        return replay
    partner = _partner()
    if partner.status != "active":
        raise PartnerNotActive(f"partner {partner.slug} is {partner.status}")
    member = _member(receipt.member_id)
    store = None
    if receipt.store_code:
        store = Store.objects.filter(code=receipt.store_code).first()
        if store is None:
            raise InvalidReceipt(f"unknown store {receipt.store_code!r}", field="store")
    try:
        with transaction.atomic():
            # Serialise one member's purchases at this partner: the daily cap and
            # the first-purchase bonus read the member's earlier purchases.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(current_schema()), %s)",
                    [receipt.member_id],
                )
            version, breakdown = _price(receipt, partner)
            purchase = Purchase.objects.create(
                external_id=receipt.external_id,
                member_id=receipt.member_id,
                channel=receipt.channel,
                store=store,
                occurred_at=receipt.occurred_at,
                currency=receipt.currency,
                total=receipt.total,
                tax=receipt.tax,
                tip=receipt.tip,
                paid_with_points=receipt.paid_with_points,
                rule_version=version,
                rule_points=breakdown.rule_points,
                idempotency_scope=idempotency.scope if idempotency else None,
                idempotency_key=idempotency.key if idempotency else None,
                request_hash=digest,
            )
            PurchaseLine.objects.bulk_create(
                PurchaseLine(
                    purchase=purchase,
                    line_number=number,
                    sku=line.sku,
                    category=line.category,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount=line.discount,
                )
                for number, line in enumerate(receipt.lines, start=1)
            )
            # Hot rows last: campaign budgets, then the ledger, then commit.
            granted = _take_campaign_budget(breakdown.campaign_points)
            points = breakdown.rule_points + sum(granted.values())
            details = breakdown.as_dict()
            details["campaign_points"] = {str(key): value for key, value in granted.items()}
            details["total"] = points
            # The engine's lines say what each campaign wanted; explain what its
            # budget cut, so the contributions still add up to the points awarded.
            for campaign_id, wanted in breakdown.campaign_points.items():
                given = granted.get(campaign_id, 0)
                if given < wanted:
                    details["contributions"].append(
                        {
                            "source": "campaign",
                            "id": campaign_id,
                            "kind": "budget_cap",
                            "description": f"campaign budget: {given} of {wanted} granted",
                            "points": str(given - wanted),
                        }
                    )
            if points > 0:
                posting = ledger.earn(
                    member_id=receipt.member_id,
                    expires_at=lot_expiry_for(receipt.member_id, timezone.now()),
                    partner_id=partner.pk,
                    points=points,
                    idempotency=IdempotencyKey(
                        f"partner:{partner.pk}:purchase", receipt.external_id
                    ),
                    external_ref=receipt.external_id,
                    memo="purchase",
                )
                details["balance_after"] = posting.balance_after
                purchase.ledger_transaction_id = posting.transaction_id
                webhooks.emit(partner.pk, "points_earned", {
                    "external_id": receipt.external_id, "member_number": member.member_number,
                    "points": points, "balance_after": posting.balance_after,
                })  # fmt: skip
            purchase.campaign_points = sum(granted.values())
            purchase.points_awarded = points
            purchase.breakdown = details
            purchase.save(
                update_fields=[
                    "ledger_transaction_id", "campaign_points", "points_awarded", "breakdown"
                ]
            )  # fmt: skip
    except IntegrityError:
        # A concurrent twin of this receipt won the race: answer with its result.
        replay = _replay(idempotency, receipt, digest)
        if replay is not None:
            return replay
        raise
    if points > 0 and purchase.ledger_transaction_id is not None:
        # Upgrades happen at once, right after the points land (own transaction:
        # the purchase stands even if the tier check fails; the next one catches up).
        # The earn carries the database's now() from its transaction's start, later
        # than ``now`` (taken when the request arrived): evaluate at the later of the
        # two, or the points just earned fall outside the qualifying window.
        posted_at = LedgerTransaction.objects.values_list("created_at", flat=True).get(
            pk=purchase.ledger_transaction_id
        )
        tier_evaluate(member_id=receipt.member_id, now=max(now, posted_at))
    return _result_of(purchase, replayed=False)


# --- returns -------------------------------------------------------------------------


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
    excluded: set[str] = set()
    if purchase.rule_version is not None:
        for rule in engine_rules(purchase.rule_version):
            if rule.kind == "exclude_categories":
                excluded.update(rule.params["categories"])
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
    partner = _partner()
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
