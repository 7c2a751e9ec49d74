"""Reads of a partner's purchases: the SQL that reads the purchase tables.

The expressions here are embedded in the purchase's one-statement snapshot
(``tenants.earning.pricing`` and the recording's own columns); ``s`` is the
partner schema as SQL (``tenants.earning.selectors.schema_sql``), and member,
instants and keys are SQL expressions (a column or a parameter).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch

from loyalty_kernel.tenancy import in_tenant
from tenants.earning.models import EarnRule
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase, PurchaseReturn


def rule_points_between_sql(s: str, *, member: str, start: str, end: str) -> str:
    """Rule points of the member's purchases here that happened in [start, end)
    (the daily cap counts them; campaign points do not count against it)."""
    return f"""(SELECT COALESCE(sum(p.rule_points), 0) FROM {s}.purchases_purchase p
    WHERE p.member_id = {member} AND p.occurred_at >= {start} AND p.occurred_at < {end})"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def has_purchases_sql(s: str, *, member: str) -> str:
    """Whether the member has bought here before (the first-purchase bonus)."""
    return f"EXISTS (SELECT 1 FROM {s}.purchases_purchase p WHERE p.member_id = {member})"  # noqa: S608 - identifiers and placeholders only, values are parameters


def purchase_replay_sql(s: str, *, where: str) -> str:
    """As JSON, the stored result of the purchase matching ``where`` (on ``p``, the
    purchase): what a replay answers and the request hash it must match."""
    return f"""(SELECT row_to_json(r) FROM (
     SELECT p.id, p.external_id, p.points_awarded, p.rule_points, p.campaign_points,
            p.breakdown, p.request_hash, v.number AS rule_version
       FROM {s}.purchases_purchase p
       LEFT JOIN {s}.earning_rulesetversion v ON v.id = p.rule_version_id
      WHERE {where}) r)"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def purchases_of_member(member_id: int, *, limit: int = 10) -> list[Purchase]:
    """The member's latest purchases at this partner, newest first (one statement,
    on the ``purchase_member`` index)."""
    return list(
        Purchase.objects.filter(member_id=member_id)
        .select_related("store")
        .order_by("-occurred_at", "-id")[:limit]
    )


def purchase_of_member(*, member_id: int, purchase_id: int) -> Purchase | None:
    """One purchase of the member at this partner with its lines and the returns made
    so far (three statements whatever the receipt's size); None when the purchase is
    not this member's or not this partner's."""
    return (
        Purchase.objects.filter(pk=purchase_id, member_id=member_id)
        .select_related("store", "rule_version")
        .prefetch_related(
            "lines",
            Prefetch(
                "returns",
                queryset=PurchaseReturn.objects.order_by("created_at", "id").prefetch_related(
                    "lines__line"
                ),
            ),
        )
        .first()
    )


@dataclass(frozen=True)
class EarnReason:
    """One reason a purchase earned points: a rule (with its kind and parameters,
    so a page can say it in words) or a campaign (its name)."""

    source: str  # "rule" or "campaign"
    kind: str
    points: Decimal
    description: str  # the engine's note; a campaign's name
    rule_params: dict[str, Any] | None  # the rule as it was when the purchase earned


@dataclass(frozen=True)
class PurchaseEarning:
    transaction_id: int
    partner_id: int
    store_name: str
    total: int
    currency: str
    points_awarded: int
    points_reversed: int
    reasons: list[EarnReason]


def _earning_of(partner_id: int, purchase: Purchase, rules: dict[int, Any]) -> PurchaseEarning:
    reasons = []
    for item in purchase.breakdown.get("contributions") or []:
        rule = rules.get(item.get("id")) if item.get("source") == "rule" else None
        reasons.append(
            EarnReason(
                source=str(item.get("source") or "rule"),
                kind=str(item.get("kind") or ""),
                points=Decimal(str(item.get("points") or 0)),
                description=str(item.get("description") or ""),
                rule_params=dict(rule.params) if rule is not None else None,
            )
        )
    return PurchaseEarning(
        transaction_id=int(purchase.ledger_transaction_id or 0),
        partner_id=partner_id,
        store_name=purchase.store.name if purchase.store else "",
        total=purchase.total,
        currency=purchase.currency,
        points_awarded=purchase.points_awarded,
        points_reversed=purchase.points_reversed,
        reasons=reasons,
    )


def member_purchase_earnings(
    *, member_id: int, transactions_by_partner: dict[int, list[int]]
) -> dict[int, PurchaseEarning]:
    """The purchases behind the member's earn transactions (by ledger transaction
    id), read in each partner's schema: two statements per partner named, whatever
    the number of transactions. A transaction that is not this member's purchase
    (an award, an adjustment) has no entry."""
    found: dict[int, PurchaseEarning] = {}
    partners = Partner.objects.filter(pk__in=list(transactions_by_partner)).order_by("pk")
    for partner in partners:
        with in_tenant(partner):
            purchases = list(
                Purchase.objects.filter(
                    member_id=member_id,
                    ledger_transaction_id__in=transactions_by_partner[partner.pk],
                ).select_related("store")
            )
            rule_ids = {
                item.get("id")
                for purchase in purchases
                for item in purchase.breakdown.get("contributions") or []
                if item.get("source") == "rule" and item.get("id") is not None
            }
            rules = {rule.pk: rule for rule in EarnRule.objects.filter(pk__in=rule_ids)}
            for purchase in purchases:
                earning = _earning_of(partner.pk, purchase, rules)
                found[earning.transaction_id] = earning
    return found


def stores_of_purchases(external_ids: list[str]) -> dict[str, str]:
    """The store's name ("" for a purchase made without one) of each of these
    purchases here, by the receipt's external id (one statement, on its unique
    index); receipts that are not this partner's purchases are left out."""
    if not external_ids:
        return {}
    return {
        external_id: store_name or ""
        for external_id, store_name in Purchase.objects.filter(
            external_id__in=external_ids
        ).values_list("external_id", "store__name")
    }
