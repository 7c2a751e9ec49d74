"""The portal's history of points across brands (filters by partner, kind and
days, keyset pages; each purchase with the points it earned and why, in words) and
the member's lots (which partner issued them and when they expire)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.models import TransactionKind
from loyalty_web.design.history_filters import HistoryFilterForm, history_filters
from loyalty_web.design.ledger_words import kind_label
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import Page, cursor_of
from loyalty_web.design.rule_words import reason_words
from loyalty_web.portal.access import member_page, portal_context
from tenants.partners.selectors import partners_active
from tenants.purchases.selectors import PurchaseEarning, member_purchase_earnings

HISTORY_PAGE_SIZE = 20
LOTS_PAGE_SIZE = 20


def _points_text(points: Decimal) -> str:
    """A contribution's points: whole points plainly, a fraction (before rounding)
    with its decimals."""
    normal = points.normalize()
    return f"{normal:+,f}" if normal != normal.to_integral_value() else f"{int(normal):+,}"


def _explained(earning: PurchaseEarning | None) -> dict[str, Any] | None:
    if earning is None:
        return None
    return {
        "store": earning.store_name,
        "total": earning.total,
        "currency": earning.currency,
        "reversed": earning.points_reversed,
        "reasons": [
            {
                "text": reason_words(
                    source=reason.source,
                    kind=reason.kind,
                    description=reason.description,
                    rule_params=reason.rule_params,
                ),
                "points": _points_text(reason.points),
            }
            for reason in earning.reasons
        ],
    }


def activity_rows(
    member_id: int, items: list[ledger_selectors.HistoryItem]
) -> list[dict[str, Any]]:
    """History items as the portal shows them; earn items of a purchase carry the
    purchase and why it earned what it did."""
    earns: dict[int, list[int]] = defaultdict(list)
    for item in items:
        if item.kind == TransactionKind.EARN and item.partner_id is not None:
            earns[item.partner_id].append(item.transaction_id)
    earnings = (
        member_purchase_earnings(member_id=member_id, transactions_by_partner=dict(earns))
        if earns
        else {}
    )
    return [
        {
            "at": item.created_at,
            "kind": item.kind,
            "what": kind_label(item.kind),
            "points": item.points,
            "partner": item.partner_name or "",
            "purchase": _explained(earnings.get(item.transaction_id)),
        }
        for item in items
    ]


@member_page
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    partners = [(p.slug, p.name) for p in partners_active().order_by("name")]
    form = HistoryFilterForm(request.GET, partners=partners)
    page: Page[Any] = Page([], None, True)
    if form.is_valid():
        result = ledger_selectors.history(
            member.pk,
            before=cursor_of(request.GET),
            limit=HISTORY_PAGE_SIZE,
            **history_filters(form, ZoneInfo(settings.TIME_ZONE)),
        )
        page = Page(
            activity_rows(member.pk, result.items),
            str(result.next_before) if result.next_before else None,
            cursor_of(request.GET) is None,
        )
    return render_page(
        request,
        "loyalty_web/portal/history.html",
        portal_context(
            request,
            "history",
            form=form,
            page=page,
            next_query=page.next_query(request.GET),
            first_query=page.first_query(request.GET),
        ),
        partial="loyalty_web/portal/history_rows.html",
        status=400 if form.errors else 200,
    )


@member_page
@require_GET
def lots(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    result = ledger_selectors.lots_page(
        member.pk, after=cursor_of(request.GET), limit=LOTS_PAGE_SIZE
    )
    page: Page[Any] = Page(
        result.lots,
        str(result.next_after) if result.next_after else None,
        cursor_of(request.GET) is None,
    )
    return render_page(
        request,
        "loyalty_web/portal/lots.html",
        portal_context(
            request,
            "lots",
            page=page,
            next_query=page.next_query(request.GET),
            first_query=page.first_query(request.GET),
        ),
    )
