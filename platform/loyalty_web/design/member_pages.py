"""What the merchant console's and the operator console's member pages share: the
look-up box, the member a page's URL names, their points movements as table rows,
and the full history page's filters, keyset page and streamed CSV download.

Each console keeps its own permissions, profile and template; the history's days
are read in the zone the caller passes (the partner's, or the coalition's UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.http import Http404, HttpRequest, QueryDict, StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from coalition.ledger import selectors as ledger_selectors
from coalition.members import selectors as member_selectors
from coalition.members.models import Member
from loyalty_web.design.exports import csv_response
from loyalty_web.design.history_filters import HistoryFilterForm, history_filters
from loyalty_web.design.ledger_words import kind_label
from loyalty_web.design.pagination import Page, cursor_of, page_links
from tenants.partners.selectors import partners_active

# The CSV streams the history in pages of this many movements.
CSV_BATCH = 200
CSV_HEADER = ["transaction", "when", "what", "points", "partner", "memo", "reference"]


class MemberLookupForm(forms.Form):
    q = forms.CharField(
        label=_("E-mail, member number or card number"),
        max_length=254,
        help_text=_("Type it as the member gives it to you, for example 1234567890."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": _("Enter an e-mail address, a member number or a card number")},
    )


@dataclass(frozen=True)
class MemberLookup:
    form: MemberLookupForm
    found: Member | None
    not_found: bool


def member_look_up(query: QueryDict) -> MemberLookup:
    """One box: an e-mail, a member number or a card number. The form stays unbound
    (no error shown) until a search is made; a match is the member to open."""
    bound = "q" in query
    form = MemberLookupForm(query if bound else None)
    if not (bound and form.is_valid()):
        return MemberLookup(form, None, not_found=False)
    found = member_selectors.member_find(form.cleaned_data["q"])
    return MemberLookup(form, found, not_found=found is None)


def member_or_404(number: str) -> Member:
    member = member_selectors.member_by_number(number)
    if member is None:
        raise Http404
    return member


def activity_rows(items: list[ledger_selectors.HistoryItem]) -> list[dict[str, Any]]:
    return [
        {
            "at": item.created_at,
            "kind": kind_label(item.kind),
            "points": item.points,
            "partner": item.partner_name or "",
            "memo": item.memo,
            "reference": item.external_ref,
        }
        for item in items
    ]


def recent_activity(member: Member, *, limit: int) -> list[dict[str, Any]]:
    return activity_rows(ledger_selectors.history(member.pk, limit=limit).items)


def history_filter_form(
    request: HttpRequest, zone: ZoneInfo
) -> tuple[HistoryFilterForm, dict[str, Any] | None]:
    """The bound filter form and its ledger filters, or None when the form is invalid
    (then the page shows no rows and the CSV is empty)."""
    partners = [(p.slug, p.name) for p in partners_active().order_by("name")]
    form = HistoryFilterForm(request.GET, partners=partners)
    return form, (history_filters(form, zone) if form.is_valid() else None)


def history_csv(member: Member, filters: dict[str, Any] | None) -> StreamingHttpResponse:
    return csv_response(
        f"history-{member.member_number}.csv", CSV_HEADER, _history_rows(member.pk, filters)
    )


def history_page(
    request: HttpRequest, member: Member, filters: dict[str, Any] | None, *, size: int
) -> dict[str, Any]:
    """One keyset page of the member's movements and the links around it, as the
    history templates name them."""
    page: Page[Any] = Page([], None, True)
    if filters is not None:
        result = ledger_selectors.history(
            member.pk, before=cursor_of(request.GET), limit=size, **filters
        )
        page = Page(
            activity_rows(result.items),
            str(result.next_before) if result.next_before else None,
            cursor_of(request.GET) is None,
        )
    return page_links(page, request.GET)


def _history_rows(member_id: int, filters: dict[str, Any] | None) -> Iterator[list[Any]]:
    """Every movement the filters select, page after page (streamed)."""
    if filters is None:
        return
    before: int | None = None
    while True:
        result = ledger_selectors.history(member_id, before=before, limit=CSV_BATCH, **filters)
        for item in result.items:
            yield [
                item.transaction_id,
                item.created_at.isoformat(),
                kind_label(item.kind),
                item.points,
                item.partner_name or "",
                item.memo,
                item.external_ref,
            ]
        if result.next_before is None:
            return
        before = result.next_before
