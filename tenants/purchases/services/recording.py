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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

from coalition.expiry.services import expiry_policy_from, lot_expiry_under
from coalition.ledger import services as ledger
from coalition.ledger.errors import IdempotencyKeyReused, PartnerNotActive
from coalition.members.errors import MemberNotActive, UnknownMember
from coalition.members.models import MemberStatus
from coalition.members.numbers import is_valid_member_number
from coalition.tiers.services import tier_upgrade_if_due
from coalition.webhooks import services as webhooks
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.tenancy import current_schema, current_tenant
from tenants.earning import engine
from tenants.earning.models import Campaign
from tenants.earning.selectors import engine_rules, published_rules
from tenants.purchases.errors import (
    DuplicateReceipt,
    InvalidReceipt,
    InvalidReturn,
    NoRulesInForce,
    PurchaseError,
    UnknownPurchase,
)
from tenants.purchases.models import (
    Channel,
    PointsShortfall,
    Purchase,
    PurchaseLine,
    PurchaseReturn,
    PurchaseReturnLine,
)

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
        """What a replay must match: the receipt with its member resolved to an id
        (a retry may name the member by id or by number)."""
        assert self.member_id is not None, "resolve the member first"
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


# --- what pricing and recording need, read in one statement ----------------------------


@dataclass(frozen=True)
class _Snapshot:
    """The member, the purchases that decide replays, caps and first-purchase
    bonuses, the rules and campaigns in force, and the expiry policy: everything
    ``purchase_record`` reads, in one round trip (a purchase is the hottest write
    of the platform; the ORM spent more time building these ~12 queries than
    PostgreSQL spent answering them)."""

    member_status: str | None  # None: no such member
    member_number: str
    country: str
    db_now: datetime  # now() of the transaction: the ledger stamps the earn with it
    by_key: dict[str, Any] | None  # the purchase recorded under this idempotency key
    by_external_id: dict[str, Any] | None
    points_today: int
    has_purchases: bool
    tier: str | None
    segments: frozenset[str]
    version: tuple[int, int] | None  # (id, number) of the rule version in force
    campaigns: tuple[engine.Campaign, ...]
    budgeted: frozenset[int]  # campaigns with a budget
    store_id: int | None
    expiry: dict[str, Any] | None
    tiers_defined: bool  # without tier levels there is nothing to upgrade to
    earned_subscribers: bool  # an endpoint of the partner listens to points_earned


_SNAPSHOT_SQL = """
SELECT m.status, m.member_number, m.country, now(),
  (SELECT row_to_json(r) FROM ({replay} WHERE p.idempotency_scope = %(scope)s::text
                                      AND p.idempotency_key = %(key)s::text) r),
  (SELECT row_to_json(r) FROM ({replay} WHERE p.external_id = %(external_id)s::text) r),
  (SELECT COALESCE(sum(p.rule_points), 0) FROM {s}.purchases_purchase p
    WHERE p.member_id = m.id AND p.occurred_at >= %(day_start)s
      AND p.occurred_at < %(day_end)s),
  EXISTS (SELECT 1 FROM {s}.purchases_purchase p WHERE p.member_id = m.id),
  (SELECT l.code FROM public.tiers_membertier t
     JOIN public.tiers_tierlevel l ON l.id = t.level_id WHERE t.member_id = m.id),
  ARRAY(SELECT g.name FROM {s}.earning_segmentmember sm
          JOIN {s}.earning_segment g ON g.id = sm.segment_id WHERE sm.member_id = m.id),
  (SELECT ARRAY[v.id, v.number] FROM {s}.earning_rulesetversion v
    WHERE v.published_at IS NOT NULL AND v.effective_from <= %(at)s
    ORDER BY v.effective_from DESC LIMIT 1),
  (SELECT json_agg(c ORDER BY c.starts_at, c.id) FROM (
     SELECT id, kind, params, starts_at, ends_at, tiers, segments, name, budget_points
       FROM {s}.earning_campaign
      WHERE is_active AND starts_at <= %(at)s AND ends_at > %(at)s) c),
  (SELECT id FROM {s}.stores_store WHERE code = %(store)s::text),
  (SELECT row_to_json(e) FROM (
     SELECT mode, months, inactivity_months, reminder_days, inactivity_only_countries
       FROM public.expiry_expirypolicy ORDER BY id LIMIT 1) e),
  EXISTS (SELECT 1 FROM public.tiers_tierlevel),
  {earned_subscribers}
FROM (SELECT 1) AS one LEFT JOIN public.members_member m ON m.{column} = %(member)s
"""

# The member's lock, by id or by number (returning the id; no row, no member).
# Its second key is an int4: ids past 2^31 share keys (more waiting, never less).
_MEMBER_LOCK_SQL = """
SELECT m.id, pg_advisory_xact_lock(hashtext(%(schema)s), (m.id %% 2147483647)::int)
  FROM public.members_member m WHERE m.{column} = %(member)s
"""

_REPLAY_SQL = """SELECT p.id, p.external_id, p.points_awarded, p.rule_points,
       p.campaign_points, p.breakdown, p.request_hash, v.number AS rule_version
  FROM {s}.purchases_purchase p
  LEFT JOIN {s}.earning_rulesetversion v ON v.id = p.rule_version_id"""

_INSERT_SQL = """
WITH purchase AS (
  INSERT INTO {s}.purchases_purchase
    (external_id, member_id, channel, store_id, occurred_at, currency, total, tax, tip,
     paid_with_points, rule_version_id, rule_points, campaign_points, points_awarded,
     points_reversed, breakdown, ledger_transaction_id, idempotency_scope, idempotency_key,
     request_hash, created_at)
  VALUES (%(external_id)s, %(member)s, %(channel)s, %(store)s::bigint, %(occurred_at)s,
          %(currency)s, %(total)s, %(tax)s, %(tip)s, %(paid_with_points)s, %(version)s::bigint,
          %(rule_points)s, %(campaign_points)s, %(points)s, 0, %(breakdown)s::jsonb,
          %(ledger_transaction)s::bigint, %(scope)s::text, %(key)s::text, %(hash)s, now())
  RETURNING id
), lines AS (
  INSERT INTO {s}.purchases_purchaseline
    (purchase_id, line_number, sku, category, quantity, unit_price, discount,
     returned_quantity)
  SELECT purchase.id, line.number, line.sku, line.category, line.quantity, line.unit_price,
         line.discount, 0
    FROM purchase,
         unnest(%(skus)s::text[], %(categories)s::text[], %(quantities)s::int[],
                %(unit_prices)s::bigint[], %(discounts)s::bigint[])
           WITH ORDINALITY AS line(sku, category, quantity, unit_price, discount, number)
)
SELECT id FROM purchase
"""


@lru_cache(maxsize=1024)
def _sql(template: str, schema: str, column: str = "id") -> str:
    """A statement naming the partner's schema: it runs on the driver connection,
    where django-tenants' search_path may not be set yet."""
    return template.format(
        s=f'"{schema}"',
        replay=_REPLAY_SQL.format(s=f'"{schema}"'),
        earned_subscribers=webhooks.subscribed_sql("points_earned", "partner"),
        column=column,
    )


def _day_bounds(receipt: Receipt, partner: Any) -> tuple[datetime, datetime]:
    """The partner's local day of the purchase (the daily cap counts per day there)."""
    zone = ZoneInfo(partner.time_zone or "UTC")
    local_day = receipt.occurred_at.astimezone(zone).date()
    start = datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone)
    return start, start + timedelta(days=1)


def _snapshot(
    receipt: Receipt, member_id: int, partner: Any, idempotency: IdempotencyKey | None
) -> _Snapshot:
    row = driver_sql.prepared(
        *_snapshot_statement(receipt, ("id", Int8(member_id)), partner, idempotency)
    )
    assert row is not None
    return _snapshot_of(row)


def _snapshot_statement(
    receipt: Receipt,
    member: tuple[str, Any],
    partner: Any,
    idempotency: IdempotencyKey | None,
) -> tuple[str, dict[str, Any]]:
    """The snapshot's statement, the member given by ("id" or "member_number", value)."""
    day_start, day_end = _day_bounds(receipt, partner)
    column, value = member
    return (
        _sql(_SNAPSHOT_SQL, current_schema(), column),
        {
            "member": value,
            "scope": idempotency.scope if idempotency else None,
            "key": idempotency.key if idempotency else None,
            "external_id": receipt.external_id,
            "day_start": day_start,
            "day_end": day_end,
            "at": receipt.occurred_at,
            "store": receipt.store_code,
            "partner": Int8(partner.pk),
        },
    )


def _snapshot_of(row: tuple[Any, ...]) -> _Snapshot:
    campaigns = tuple(
        engine.Campaign(
            c["id"],
            c["kind"],
            c["params"],
            datetime.fromisoformat(c["starts_at"]),
            datetime.fromisoformat(c["ends_at"]),
            frozenset(c["tiers"]),
            frozenset(c["segments"]),
            c["name"],
        )
        for c in _json(row[11]) or ()
    )
    budgeted = frozenset(c["id"] for c in _json(row[11]) or () if c["budget_points"] is not None)
    return _Snapshot(
        member_status=row[0],
        member_number=row[1] or "",
        country=row[2] or "",
        db_now=row[3],
        by_key=_json(row[4]),
        by_external_id=_json(row[5]),
        points_today=int(row[6]),
        has_purchases=bool(row[7]),
        tier=row[8],
        segments=frozenset(row[9]),
        version=(int(row[10][0]), int(row[10][1])) if row[10] else None,
        campaigns=campaigns,
        budgeted=budgeted,
        store_id=row[12],
        expiry=_json(row[13]),
        tiers_defined=bool(row[14]),
        earned_subscribers=bool(row[15]),
    )


def _json(value: Any) -> Any:
    # Django's psycopg set-up hands json to driver cursors as text.
    return json.loads(value) if isinstance(value, str) else value


def _check_member(snapshot: _Snapshot, member: Any) -> None:
    """The member the snapshot found (by id or number) may earn."""
    if snapshot.member_status != MemberStatus.ACTIVE:
        raise MemberNotActive(f"member {member} is {snapshot.member_status}")


def _breakdown_of(receipt: Receipt, snapshot: _Snapshot) -> engine.Breakdown:
    if snapshot.version is None:
        raise NoRulesInForce("no earn rules were in force when this purchase happened")
    return engine.points_for_purchase(
        receipt.basket(),
        published_rules(snapshot.version[0]),
        list(snapshot.campaigns),
        engine.EarnContext(
            occurred_at=receipt.occurred_at,
            tier=snapshot.tier,
            segments=snapshot.segments,
            is_first_purchase=not snapshot.has_purchases,
            points_earned_today=snapshot.points_today,
        ),
    )


def _member_key(receipt: Receipt) -> tuple[tuple[str, Any], UnknownMember]:
    """How the statements find the receipt's member (by id, or by number), and
    the error to raise when nobody is found that way."""
    if receipt.member_id is not None:
        return ("id", Int8(receipt.member_id)), UnknownMember(
            f"no member with id {receipt.member_id}"
        )
    number = receipt.member_number.strip()
    unknown = UnknownMember(f"no member with number {number!r}", field="member_number")
    if not is_valid_member_number(number):
        raise unknown
    return ("member_number", number), unknown


def purchase_preview(receipt: Receipt, *, now: datetime | None = None) -> engine.Breakdown:
    """The points this basket would earn now, posting nothing."""
    _validate_receipt(receipt, now or timezone.now())
    member, unknown = _member_key(receipt)
    row = driver_sql.prepared(*_snapshot_statement(receipt, member, _partner(), None))
    assert row is not None
    snapshot = _snapshot_of(row)
    if snapshot.member_status is None:
        raise unknown
    _check_member(snapshot, member[1])
    return _breakdown_of(receipt, snapshot)


def _lock_and_snapshot(
    schema: str, receipt: Receipt, partner: Any, idempotency: IdempotencyKey | None
) -> tuple[int, _Snapshot]:
    """Take the member's purchase lock at this partner, then read the snapshot:
    sent together (one round trip, the transaction's BEGIN included); PostgreSQL
    runs them in order, so the snapshot's statement starts once the lock is held
    and sees every purchase committed before. The member's id and the snapshot."""
    member, unknown = _member_key(receipt)
    locked, read = driver_sql.prepared_pipeline(
        [
            (_MEMBER_LOCK_SQL.format(column=member[0]), {"schema": schema, "member": member[1]}),
            _snapshot_statement(receipt, member, partner, idempotency),
        ]
    )
    if not locked:
        raise unknown
    return int(locked[0][0]), _snapshot_of(read[0])


def _replay(
    snapshot: _Snapshot, idempotency: IdempotencyKey | None, receipt: Receipt, digest: str
) -> PurchaseResult | None:
    """The stored result when this receipt was recorded before; an error when its
    key or its external id was used for something else."""
    existing = snapshot.by_key if idempotency is not None else None
    if existing is not None and existing["request_hash"] != digest:
        assert idempotency is not None
        raise IdempotencyKeyReused(
            f"idempotency key {idempotency.key!r} was used for a different purchase"
        )
    if existing is None:
        existing = snapshot.by_external_id
        if existing is not None and existing["request_hash"] != digest:
            raise DuplicateReceipt(
                f"receipt {receipt.external_id} was recorded already, with other content"
            )
    if existing is None:
        return None
    breakdown = _json(existing["breakdown"])
    return PurchaseResult(
        purchase_id=existing["id"],
        external_id=existing["external_id"],
        points=existing["points_awarded"],
        rule_points=existing["rule_points"],
        campaign_points=existing["campaign_points"],
        balance_after=breakdown.get("balance_after"),
        rule_version=existing["rule_version"],
        breakdown=breakdown,
        replayed=True,
    )


def _take_campaign_budget(
    campaign_points: dict[int, int], budgeted: frozenset[int]
) -> dict[int, int]:
    """Grant each campaign what it wants, clipped to its remaining budget.

    A budgeted campaign's counter is a hot row that every purchase getting its
    points updates: the caller takes it last in its transaction (just before the
    ledger earn and the commit), so the row is locked for a few statements, not
    the whole purchase. Rows are locked in id order: no deadlocks. Unbudgeted
    campaigns are never touched (their total is the sum over purchases'
    breakdowns).
    """
    granted: dict[int, int] = {}
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


def _details(breakdown: engine.Breakdown, granted: dict[int, int], points: int) -> dict[str, Any]:
    details = breakdown.as_dict()
    details["campaign_points"] = {str(key): value for key, value in granted.items()}
    details["total"] = points
    # The engine's lines say what each campaign wanted; explain what its budget
    # cut, so the contributions still add up to the points awarded.
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
    return details


def purchase_record(
    receipt: Receipt,
    *,
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
) -> PurchaseResult:
    """Record a receipt and post its points. Replaying the same receipt (same
    idempotency key, or same external id) returns the original result.

    Four round trips in one transaction: the member's lock, the snapshot of
    everything pricing needs, the ledger earn, and the receipt with its lines.
    """
    now = now or timezone.now()
    _validate_receipt(receipt, now)
    partner = _partner()
    schema = current_schema()
    member_id: int | None = None
    try:
        with transaction.atomic():
            # Serialise one member's purchases at this partner: the daily cap, the
            # first-purchase bonus and the replay check read the member's earlier
            # purchases (the snapshot is read after the lock is granted).
            member_id, snapshot = _lock_and_snapshot(schema, receipt, partner, idempotency)
            receipt = replace(receipt, member_id=member_id, member_number="")
            digest = receipt.request_hash()
            replay = _replay(snapshot, idempotency, receipt, digest)
            if replay is not None:
                return replay
            if partner.status != "active":
                raise PartnerNotActive(f"partner {partner.slug} is {partner.status}")
            _check_member(snapshot, member_id)
            if receipt.store_code and snapshot.store_id is None:
                raise InvalidReceipt(f"unknown store {receipt.store_code!r}", field="store")
            breakdown = _breakdown_of(receipt, snapshot)
            # Hot rows last: campaign budgets, then the ledger, then commit.
            granted = _take_campaign_budget(breakdown.campaign_points, snapshot.budgeted)
            points = breakdown.rule_points + sum(granted.values())
            details = _details(breakdown, granted, points)
            posting = None
            if points > 0:
                posting = ledger.earn(
                    member_id=member_id,
                    expires_at=lot_expiry_under(
                        expiry_policy_from(snapshot.expiry), snapshot.country, snapshot.db_now
                    ),
                    partner_id=partner.pk,
                    points=points,
                    idempotency=IdempotencyKey(
                        f"partner:{partner.pk}:purchase", receipt.external_id
                    ),
                    external_ref=receipt.external_id,
                    memo="purchase",
                    savepoint=False,
                )
                details["balance_after"] = posting.balance_after
            if posting is not None and snapshot.earned_subscribers:
                webhooks.emit(partner.pk, "points_earned", {
                    "external_id": receipt.external_id, "member_number": snapshot.member_number,
                    "points": points, "balance_after": posting.balance_after,
                })  # fmt: skip
            row = driver_sql.prepared(
                _sql(_INSERT_SQL, schema),
                {
                    "external_id": receipt.external_id,
                    "member": Int8(member_id),
                    "channel": receipt.channel,
                    "store": snapshot.store_id,
                    "occurred_at": receipt.occurred_at,
                    "currency": receipt.currency,
                    "total": Int8(receipt.total),
                    "tax": Int8(receipt.tax),
                    "tip": Int8(receipt.tip),
                    "paid_with_points": Int8(receipt.paid_with_points),
                    "version": snapshot.version[0] if snapshot.version else None,
                    "rule_points": Int8(breakdown.rule_points),
                    "campaign_points": Int8(sum(granted.values())),
                    "points": Int8(points),
                    "breakdown": json.dumps(details, separators=(",", ":")),
                    "ledger_transaction": posting.transaction_id if posting else None,
                    "scope": idempotency.scope if idempotency else None,
                    "key": idempotency.key if idempotency else None,
                    "hash": digest,
                    "skus": [line.sku for line in receipt.lines],
                    "categories": [line.category for line in receipt.lines],
                    "quantities": [line.quantity for line in receipt.lines],
                    "unit_prices": [line.unit_price for line in receipt.lines],
                    "discounts": [line.discount for line in receipt.lines],
                },
            )
            assert row is not None
    except IntegrityError:
        # A twin of this receipt (same external id or key, without the member
        # lock: another member number) won the race: answer with its result.
        if member_id is None:  # the lock statement itself failed
            raise
        receipt = replace(receipt, member_id=member_id, member_number="")
        snapshot = _snapshot(receipt, member_id, partner, idempotency)
        replay = _replay(snapshot, idempotency, receipt, receipt.request_hash())
        if replay is not None:
            return replay
        raise
    if posting is not None and snapshot.tiers_defined:
        # Upgrades happen at once, right after the points land (own transaction:
        # the purchase stands even if the tier check fails; the next one catches
        # up). The earn carries the database's now() from its transaction, later
        # than ``now`` (taken when the request arrived): evaluate at the later of
        # the two, or the points just earned fall outside the qualifying window.
        tier_upgrade_if_due(member_id=member_id, now=max(now, snapshot.db_now))
    return PurchaseResult(
        purchase_id=int(row[0]),
        external_id=receipt.external_id,
        points=points,
        rule_points=breakdown.rule_points,
        campaign_points=sum(granted.values()),
        balance_after=details.get("balance_after"),
        rule_version=snapshot.version[1] if snapshot.version else None,
        breakdown=details,
    )


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
