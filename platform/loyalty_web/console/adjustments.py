"""The partner's points adjustments, newest first: when, which member, added or taken
back, how many points, why and who, filtered by the partner's days, a page at a time
and as CSV. Reading it needs "read_reports" (owners, managers, analysts: a report,
read-only); the CSV needs "export". Adjusting is on a member's page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from coalition.adjustments.selectors import partner_adjustments
from loyalty_web.console.access import denied, may, partner_of, staff_page
from loyalty_web.console.members_forms import AdjustmentFilterForm
from loyalty_web.console.views import console_context
from loyalty_web.design.exports import csv_response
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import Page, cursor_of, keyset_page, page_links

PAGE_SIZE = 50


def _filters(form: AdjustmentFilterForm) -> dict[str, Any]:
    return {"since": form.cleaned_data.get("since"), "until": form.cleaned_data.get("until")}


def _csv_rows(partner_id: int, zone: ZoneInfo, filters: dict[str, Any]) -> Iterator[list[Any]]:
    for row in partner_adjustments(partner_id, **filters).iterator(chunk_size=500):
        yield [
            row.created_at.astimezone(zone).isoformat(),
            row.local_day.isoformat(),
            row.member.member_number,
            "added" if row.points > 0 else "taken_back",
            row.points,
            row.reason,
            row.actor_label,
            row.balance_after,
            row.ledger_transaction_id,
        ]


@staff_page("read_reports")
def adjustment_list(request: HttpRequest) -> HttpResponseBase:
    partner = partner_of(request)
    zone = ZoneInfo(partner.time_zone)
    form = AdjustmentFilterForm(request.GET)
    valid = form.is_valid()
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        return csv_response(
            f"adjustments-{partner.slug}.csv",
            ["at", "day", "member_number", "kind", "points", "reason", "who", "balance_after",
             "transaction"],
            _csv_rows(partner.pk, zone, _filters(form)) if valid else iter(()),
        )  # fmt: skip
    page: Page[Any] = Page([], None, True)
    if valid:
        page = keyset_page(
            partner_adjustments(partner.pk, before_id=cursor_of(request.GET), **_filters(form)),
            size=PAGE_SIZE,
            first_page=cursor_of(request.GET) is None,
        )
    return render_page(
        request,
        "loyalty_web/console/adjustments.html",
        console_context(
            request,
            "adjustments",
            form=form,
            zone=partner.time_zone,
            can_export=may(request, "export"),
            **page_links(page, request.GET),
        ),
        partial="loyalty_web/console/adjustments_rows.html",
        status=400 if form.errors else 200,
    )
