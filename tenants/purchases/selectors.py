"""Reads of a partner's purchases: the SQL that reads the purchase tables.

The expressions here are embedded in the purchase's one-statement snapshot
(``tenants.earning.pricing`` and the recording's own columns); ``s`` is the
partner schema as SQL (``tenants.earning.selectors.schema_sql``), and member,
instants and keys are SQL expressions (a column or a parameter).
"""

from __future__ import annotations

from django.db.models import Prefetch

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
