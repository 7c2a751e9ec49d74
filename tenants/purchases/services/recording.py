"""Recording a purchase at a partner, and previewing one (call inside the
partner's schema).

A purchase is validated, priced in points with the rule version in force when it
*happened* (``occurred_at``), and posted to the ledger in the same database
transaction as the receipt, so either both exist or neither. What pricing reads
is earning's snapshot (``tenants.earning.pricing``), read in the statement right
after the member's lock, together with what recording itself needs: the
purchases that decide a replay, the store, and whether a webhook listens.
Campaign budgets are taken from their buckets (``tenants.earning.budgets``), so
concurrent purchases never overspend them and rarely wait for each other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

from coalition.ledger import services as ledger
from coalition.ledger.errors import IdempotencyKeyReused, PartnerNotActive
from coalition.members.errors import MemberNotActive
from coalition.members.models import MemberStatus
from coalition.tiers.services import tier_upgrade_check, tier_upgrade_due
from coalition.tiers.upgrades import tier_evaluate_after
from coalition.webhooks import services as webhooks
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.tenancy import current_schema
from tenants.earning import engine, pricing
from tenants.earning.budgets import (
    budget_take_gate,
    campaign_budget_take,
)
from tenants.earning.selectors import schema_sql
from tenants.purchases.errors import (
    DuplicateReceipt,
    InvalidReceipt,
    NoRulesInForce,
    PurchaseError,
)
from tenants.purchases.selectors import purchase_replay_sql
from tenants.purchases.services.receipts import (
    PurchaseResult,
    Receipt,
    current_partner,
    lines_json,
    member_key,
    validate_receipt,
)
from tenants.stores.selectors import store_id_sql

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Recording:
    """What recording reads besides pricing, in the snapshot's statement."""

    by_key: dict[str, Any] | None  # the purchase recorded under this idempotency key
    by_external_id: dict[str, Any] | None
    store_id: int | None
    earned_subscribers: bool  # an endpoint of the partner listens to points_earned


def _recording_columns(schema: str) -> tuple[str, ...]:
    s = schema_sql(schema)
    return (
        purchase_replay_sql(
            s, where="p.idempotency_scope = %(scope)s::text AND p.idempotency_key = %(key)s::text"
        ),
        purchase_replay_sql(s, where="p.external_id = %(external_id)s::text"),
        store_id_sql(s, code="%(store)s::text"),
        webhooks.subscribed_sql("points_earned", "partner"),
    )


@lru_cache(maxsize=1024)
def _snapshot_sql(schema: str, member_column: str) -> str:
    return pricing.snapshot_sql(schema, member_column, _recording_columns(schema))


# The member's lock, by id or by number (returning the id; no row, no member).
# Its second key is an int4: ids past 2^31 share keys (more waiting, never less).
_MEMBER_LOCK_SQL = """
SELECT m.id, pg_advisory_xact_lock(hashtext(%(schema)s), (m.id %% 2147483647)::int)
  FROM public.members_member m WHERE m.{column} = %(member)s
"""

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
  SELECT purchase.id, line.number, line.item->>0, line.item->>1, (line.item->>2)::int,
         (line.item->>3)::bigint, (line.item->>4)::bigint, 0
    FROM purchase, json_array_elements(%(lines)s::json) WITH ORDINALITY AS line(item, number)
)
{answer}
"""
_ANSWER = "SELECT id FROM purchase"
_ANSWER_AND_CHECK = "SELECT purchase.id, tier_check.* FROM purchase, ({check}) AS tier_check"


@lru_cache(maxsize=1024)
def _insert_sql(schema: str) -> str:
    return _INSERT_SQL.format(s=schema_sql(schema), answer=_ANSWER)


@lru_cache(maxsize=1024)
def _insert_and_check_sql(schema: str, check_sql: str) -> str:
    """The receipt's insert, answering the receipt's id followed by the columns
    of ``check_sql`` (the tier upgrade check, whose ``member`` parameter is the
    insert's): one statement where two would cost a statement's parse, bind and
    execute more on both sides."""
    answer = _ANSWER_AND_CHECK.format(check=check_sql)
    return driver_sql.compact_sql(_INSERT_SQL.format(s=schema_sql(schema), answer=answer))


def _snapshot_statement(
    receipt: Receipt,
    member: tuple[str, Any],
    partner: Any,
    idempotency: IdempotencyKey | None,
) -> tuple[str, dict[str, Any]]:
    """The snapshot's statement, the member given by ("id" or "member_number", value)."""
    column, value = member
    params = pricing.snapshot_params(
        member=value, occurred_at=receipt.occurred_at, time_zone=partner.time_zone
    )
    params.update(
        scope=idempotency.scope if idempotency else None,
        key=idempotency.key if idempotency else None,
        external_id=receipt.external_id,
        store=receipt.store_code,
        partner=Int8(partner.pk),
    )
    return _snapshot_sql(current_schema(), column), params


def _snapshot_of(
    row: tuple[Any, ...] | None,
) -> tuple[pricing.PricingSnapshot, _Recording]:
    if row is None:  # the statement selects from a one-row relation: never empty
        raise PurchaseError("the purchase snapshot returned no row")
    extra = row[pricing.COLUMNS :]
    return pricing.snapshot_of(row), _Recording(
        by_key=_json(extra[0]),
        by_external_id=_json(extra[1]),
        store_id=extra[2],
        earned_subscribers=bool(extra[3]),
    )


def _snapshot(
    receipt: Receipt, member_id: int, partner: Any, idempotency: IdempotencyKey | None
) -> tuple[pricing.PricingSnapshot, _Recording]:
    statement = _snapshot_statement(receipt, ("id", Int8(member_id)), partner, idempotency)
    return _snapshot_of(driver_sql.prepared(*statement))


def _json(value: Any) -> Any:
    # Django's psycopg set-up hands json to driver cursors as text.
    return json.loads(value) if isinstance(value, str) else value


def _check_member(snapshot: pricing.PricingSnapshot, member: Any) -> None:
    """The member the snapshot found (by id or number) may earn."""
    if snapshot.member_status != MemberStatus.ACTIVE:
        raise MemberNotActive(f"the member is {snapshot.member_status}")


def _breakdown_of(receipt: Receipt, snapshot: pricing.PricingSnapshot) -> engine.Breakdown:
    if snapshot.version is None:
        raise NoRulesInForce("no earn rules were in force when this purchase happened")
    return pricing.price(receipt.basket, snapshot, receipt.occurred_at)


def purchase_preview(receipt: Receipt, *, now: datetime | None = None) -> engine.Breakdown:
    """The points this basket would earn now, posting nothing."""
    validate_receipt(receipt, now or timezone.now())
    member, unknown = member_key(receipt)
    snapshot, _ = _snapshot_of(
        driver_sql.prepared(*_snapshot_statement(receipt, member, current_partner(), None))
    )
    if snapshot.member_status is None:
        raise unknown
    _check_member(snapshot, member[1])
    return _breakdown_of(receipt, snapshot)


def _lock_and_snapshot(
    schema: str, receipt: Receipt, partner: Any, idempotency: IdempotencyKey | None
) -> tuple[int, pricing.PricingSnapshot, _Recording]:
    """Take the member's purchase lock at this partner, then read the snapshot:
    sent together (one round trip, after psycopg's BEGIN); PostgreSQL
    runs them in order, so the snapshot's statement starts once the lock is held
    and sees every purchase committed before. The member's id and the snapshot."""
    member, unknown = member_key(receipt)
    locked, read = driver_sql.prepared_pipeline(
        [
            (_MEMBER_LOCK_SQL.format(column=member[0]), {"schema": schema, "member": member[1]}),
            _snapshot_statement(receipt, member, partner, idempotency),
        ]
    )
    if not locked:
        raise unknown
    snapshot, recording = _snapshot_of(read[0] if read else None)
    return int(locked[0][0]), snapshot, recording


def _replay(
    recording: _Recording, idempotency: IdempotencyKey | None, receipt: Receipt, digest: str
) -> PurchaseResult | None:
    """The stored result when this receipt was recorded before; an error when its
    key or its external id was used for something else."""
    existing = None
    if idempotency is not None:
        existing = recording.by_key
        if existing is not None and existing["request_hash"] != digest:
            raise IdempotencyKeyReused(
                f"idempotency key {idempotency.key!r} was used for a different purchase"
            )
    if existing is None:
        existing = recording.by_external_id
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


class _BudgetShort(Exception):
    """The member's bucket of a budgeted campaign could not cover the purchase's
    campaign points: its transaction rolls back, and the purchase is recorded again
    taking the budgets in turn."""


def _take_and_earn(
    receipt: Receipt,
    breakdown: engine.Breakdown,
    snapshot: pricing.PricingSnapshot,
    member_id: int,
    partner: Any,
    *,
    together: bool,
) -> tuple[dict[int, int], ledger.Posting | None]:
    """Take the campaign budgets, then post the points: what each campaign was
    granted, and the posting (None: no points). Usually one budgeted campaign
    wants points and the member's bucket covers them, so the take is the gate of
    the earn of all the points: one statement, no savepoint (``together``). When
    the bucket falls short this raises ``_BudgetShort``; the caller rolls back and
    comes again with ``together`` False, and the budgets are taken in turn, each
    clipped to what is left, before the earn of what they gave (so do several
    budgeted campaigns, in campaign id order)."""

    def earn_args(points: int) -> dict[str, Any]:
        return {
            "member_id": member_id,
            "partner_id": partner.pk,
            "points": points,
            "idempotency": IdempotencyKey(f"partner:{partner.pk}:purchase", receipt.external_id),
            "expires_at": snapshot.lot_expiry(),
            "external_ref": receipt.external_id,
            "memo": "purchase",
        }

    wanted, budgeted = breakdown.campaign_points, snapshot.budgeted
    gate = budget_take_gate(wanted=wanted, budgeted=budgeted, member_id=member_id)
    if together and gate is not None:
        points = breakdown.rule_points + sum(wanted.values())
        args = earn_args(points)
        row = driver_sql.prepared(*ledger.earn_gated_statement(gate, **args))
        if row is None or not row[0]:
            raise _BudgetShort
        posting = ledger.earn_posting(row[1:] if row[1] is not None else None, points)
        granted = {c: wanted[c] for c in sorted(wanted) if wanted[c] > 0}
        # Nothing posted: ``earn`` runs it again and says why (or replays).
        return granted, posting or ledger.earn(**args, savepoint=False)
    granted = campaign_budget_take(wanted=wanted, budgeted=budgeted, member_id=member_id)
    points = breakdown.rule_points + sum(granted.values())
    if points <= 0:
        return granted, None
    return granted, ledger.earn(**earn_args(points), savepoint=False)


def purchase_record(
    receipt: Receipt,
    *,
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
) -> PurchaseResult:
    """Record a receipt and post its points. Replaying the same receipt (same
    idempotency key, or same external id) returns the original result.

    Five round trips in one transaction: psycopg's BEGIN, the member's lock with
    the snapshot of everything pricing needs, the campaign budget's take with the
    ledger earn (one statement), the receipt with its lines (the tier check in the
    same statement), and the commit. When the member's bucket of a budgeted
    campaign falls short, that transaction rolls back and the purchase is recorded
    again taking the budgets in turn (``_take_and_earn``).
    """
    now = now or timezone.now()
    validate_receipt(receipt, now)
    try:
        return _record(receipt, idempotency, now, budgets_together=True)
    except _BudgetShort:
        return _record(receipt, idempotency, now, budgets_together=False)


def _record(
    receipt: Receipt,
    idempotency: IdempotencyKey | None,
    now: datetime,
    *,
    budgets_together: bool,
) -> PurchaseResult:
    partner = current_partner()
    schema = current_schema()
    member_id: int | None = None
    try:
        with transaction.atomic():
            # Serialise one member's purchases at this partner: the daily cap, the
            # first-purchase bonus and the replay check read the member's earlier
            # purchases (the snapshot is read after the lock is granted).
            member_id, snapshot, recording = _lock_and_snapshot(
                schema, receipt, partner, idempotency
            )
            receipt = replace(receipt, member_id=member_id, member_number="")
            digest = receipt.request_hash()
            replay = _replay(recording, idempotency, receipt, digest)
            if replay is not None:
                return replay
            if not partner.is_active:
                raise PartnerNotActive(f"partner {partner.slug} is {partner.status}")
            _check_member(snapshot, member_id)
            if receipt.store_code and recording.store_id is None:
                raise InvalidReceipt(f"unknown store {receipt.store_code!r}", field="store")
            breakdown = _breakdown_of(receipt, snapshot)
            # Hot rows last: campaign budgets, then the ledger, then commit.
            granted, posting = _take_and_earn(
                receipt, breakdown, snapshot, member_id, partner, together=budgets_together
            )
            points = breakdown.rule_points + sum(granted.values())
            details = _details(breakdown, granted, points)
            details["attribution"] = [
                line.as_dict()
                for line in pricing.attribute(
                    receipt.basket, snapshot, rule_points=breakdown.rule_points,
                    campaign_points=granted,
                )
            ]  # fmt: skip
            if posting is not None:
                details["balance_after"] = posting.balance_after
            if posting is not None and recording.earned_subscribers:
                webhooks.emit(partner.pk, "points_earned", {
                    "external_id": receipt.external_id, "member_number": snapshot.member_number,
                    "points": points, "balance_after": posting.balance_after,
                })  # fmt: skip
            insert = (
                _insert_sql(schema),
                {
                    "external_id": receipt.external_id,
                    "member": Int8(member_id),
                    "channel": receipt.channel,
                    "store": recording.store_id,
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
                    "lines": lines_json(receipt.lines),
                },
            )
            # The earn carries the database's now() (``snapshot.db_now``, the same
            # transaction), later than ``now`` (taken when the request arrived):
            # the check looks at the later of the two, or the points just earned
            # would fall outside the qualifying window.
            checked_at = max(now, snapshot.db_now)
            upgrade_due, held = False, None
            if posting is not None and snapshot.tiers_defined:
                # The upgrade check travels inside the insert (one statement): a
                # later statement than the earn, read before the commit, it still
                # sees every earlier earn of the member (``tier_upgrade_check``
                # says why); the receipt's rows are not among what it reads.
                check_sql, check_params = tier_upgrade_check(member_id=member_id, now=checked_at)
                inserted = driver_sql.prepared_all(
                    _insert_and_check_sql(schema, check_sql), {**check_params, **insert[1]}
                )
                upgrade_due = bool(inserted) and tier_upgrade_due(inserted[0][1:])
                held = inserted[0][2] if inserted else None  # the check's level code
            else:
                inserted = driver_sql.prepared_all(*insert)
            if not inserted:  # an INSERT ... RETURNING of one row
                raise PurchaseError("the purchase insert returned no row")
            row = inserted[0]
    except IntegrityError:
        # A twin of this receipt (same external id or key, without the member
        # lock: another member number) won the race: answer with its result.
        if member_id is None:  # the lock statement itself failed
            raise
        receipt = replace(receipt, member_id=member_id, member_number="")
        _, recording = _snapshot(receipt, member_id, partner, idempotency)
        replay = _replay(recording, idempotency, receipt, receipt.request_hash())
        if replay is not None:
            return replay
        raise
    if upgrade_due:
        # Upgrades happen right after the points land, in their own transaction
        # (``tier_evaluate`` decides again under the member's tier row lock): a job
        # with a broker, so the purchase answers without waiting for it, here and
        # now without one. The purchase has committed and stands whatever happens
        # to the upgrade (logged, never returned to the client); the member's next
        # earn finds it still due.
        tier_evaluate_after(member_id=member_id, now=checked_at, held=held)
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
