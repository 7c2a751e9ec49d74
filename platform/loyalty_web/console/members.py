"""Member pages of the merchant console: look a member up, read their profile,
balance, lots, history and purchases here, record a return of a purchase's units and
adjust their points.

Every member of staff looks members up ("look_up_members"); owners and managers
record returns ("record_returns") and adjust points ("adjust_points"); exports need
"export". Each view reads its input, calls one domain service or selector, and
renders; a domain error is shown next to the field it names.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from coalition.adjustments import selectors as adjustment_selectors
from coalition.adjustments import services as adjustments
from coalition.ledger import selectors as ledger_selectors
from coalition.members import selectors as member_selectors
from coalition.members.models import Member, MemberStatus
from coalition.tiers.selectors import tier_code_of
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_web.console.access import denied as _denied
from loyalty_web.console.access import may as _can
from loyalty_web.console.access import partner_of as _partner
from loyalty_web.console.access import staff_page
from loyalty_web.console.members_forms import AdjustmentForm, ReturnForm
from loyalty_web.console.views import console_context
from loyalty_web.design import member_pages
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import cursor_of
from tenants.purchases import selectors as purchase_selectors
from tenants.purchases import services as purchases
from tenants.purchases.errors import InvalidReturn

LOOK_UP = "look_up_members"
HISTORY_PAGE_SIZE = 50
RECENT_ACTIVITY = 10
RECENT_PURCHASES = 10
LOTS_ON_PAGE = 20


STATUS_LABELS = {
    MemberStatus.ACTIVE: (gettext_lazy("Active"), "tag--ok"),
    MemberStatus.BLOCKED: (gettext_lazy("Suspended"), "tag--warn"),
    MemberStatus.ERASED: (gettext_lazy("Erased"), ""),
}


def _profile(member: Member) -> dict[str, Any]:
    label, css = STATUS_LABELS.get(MemberStatus(member.status), (member.status, ""))
    return {
        "number": member.member_number,
        "email": member_selectors.masked_email(member),
        "status": member.status,
        "status_label": str(label),
        "status_css": css,
        "erased": member.status == MemberStatus.ERASED,
        "suspended": member.status == MemberStatus.BLOCKED,
        "enrolled_at": member.enrolled_at,
        "enrolled_by": member.enrolled_by.name if member.enrolled_by else "",
    }


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return console_context(
        request,
        "members",
        can_return=_can(request, "record_returns"),
        can_adjust=_can(request, "adjust_points"),
        can_export=_can(request, "export"),
        **extra,
    )


# --- look-up -------------------------------------------------------------------------------


@staff_page(LOOK_UP)
def member_search(request: HttpRequest) -> HttpResponse:
    """A match opens the member's page; no match says so."""
    lookup = member_pages.member_look_up(request.GET)
    if lookup.found is not None:
        return HttpResponseRedirect(reverse("console:member", args=[lookup.found.member_number]))
    return render_page(
        request,
        "loyalty_web/console/members.html",
        _context(request, form=lookup.form, not_found=lookup.not_found),
        status=400 if lookup.form.errors else 200,
    )


# --- the member's page ------------------------------------------------------------------------


@staff_page(LOOK_UP)
def member_detail(request: HttpRequest, number: str) -> HttpResponse:
    member = member_pages.member_or_404(number)
    lots = ledger_selectors.lots_page(
        member.pk, after=cursor_of(request.GET, "lots_after"), limit=LOTS_ON_PAGE
    )
    return render_page(
        request,
        "loyalty_web/console/member.html",
        _context(
            request,
            member=member,
            profile=_profile(member),
            balance=ledger_selectors.balance(member.pk),
            tier=tier_code_of(member.pk),
            lots=lots,
            activity=member_pages.recent_activity(member, limit=RECENT_ACTIVITY),
            purchases=purchase_selectors.purchases_of_member(member.pk, limit=RECENT_PURCHASES),
        ),
    )


# --- history -------------------------------------------------------------------------------


@staff_page(LOOK_UP)
def member_history(request: HttpRequest, number: str) -> HttpResponseBase:
    """Every points movement of the member at every partner, newest first; days
    are the partner's."""
    member = member_pages.member_or_404(number)
    form, filters = member_pages.history_filter_form(request, ZoneInfo(_partner(request).time_zone))
    if request.GET.get("format") == "csv":
        if not _can(request, "export"):
            return _denied(request)
        return member_pages.history_csv(member, filters)
    return render_page(
        request,
        "loyalty_web/console/member_history.html",
        _context(
            request,
            member=member,
            profile=_profile(member),
            form=form,
            **member_pages.history_page(request, member, filters, size=HISTORY_PAGE_SIZE),
        ),
        partial="loyalty_web/console/member_history_rows.html",
        status=400 if form.errors else 200,
    )


# --- a purchase and its returns ---------------------------------------------------------------


def _purchase(member: Member, purchase_id: int) -> Any:
    purchase = purchase_selectors.purchase_of_member(member_id=member.pk, purchase_id=purchase_id)
    if purchase is None:
        raise Http404
    return purchase


def _breakdown(purchase: Any) -> list[dict[str, Any]]:
    """The stored attribution of the points: one row per rule or campaign."""
    rows = []
    for item in purchase.breakdown.get("contributions") or []:
        rows.append(
            {
                "source": _("Campaign") if item.get("source") == "campaign" else _("Rule"),
                "description": item.get("description", ""),
                "points": item.get("points", ""),
            }
        )
    return rows


def _line_points(purchase: Any) -> dict[int, int]:
    return {
        int(item["line"]): int(item["points"])
        for item in purchase.breakdown.get("attribution") or []
    }


@staff_page(LOOK_UP)
@require_http_methods(["GET", "POST"])
def purchase_detail(request: HttpRequest, number: str, purchase_id: int) -> HttpResponse:
    member = member_pages.member_or_404(number)
    purchase = _purchase(member, purchase_id)
    lines = list(purchase.lines.all())
    if request.method == "POST" and not _can(request, "record_returns"):
        return _denied(request)
    form = ReturnForm(request.POST or None, lines=lines)
    if request.method == "POST" and form.is_valid():
        try:
            result = purchases.purchase_return(
                external_id=purchase.external_id,
                lines=form.quantities(),
                idempotency=IdempotencyKey(
                    f"console:{_partner(request).pk}:return", form.cleaned_data["idempotency_key"]
                ),
                return_reference=f"console:{request.user.pk}",
            )
        except InvalidReturn as error:
            name = f"line_{error.line}"
            form.add_error(name if name in form.fields else None, error.message)
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Return recorded: %(points)s points taken back.")
                % {"points": result.points_reversed},
            )
            if result.shortfall:
                messages.warning(
                    request,
                    _(
                        "The member had already spent %(points)s of those points; "
                        "they are recorded as a shortfall."
                    )
                    % {"points": result.shortfall},
                )
            return HttpResponseRedirect(
                reverse("console:purchase", args=[member.member_number, purchase.pk])
            )
    attributed = _line_points(purchase)
    return render_page(
        request,
        "loyalty_web/console/purchase.html",
        _context(
            request,
            member=member,
            profile=_profile(member),
            purchase=purchase,
            lines=[{"line": line, "points": attributed.get(line.line_number)} for line in lines],
            breakdown=_breakdown(purchase),
            returns=list(purchase.returns.all()),
            form=form,
            returnable=bool(form.line_fields),
        ),
        status=400 if form.errors else 200,
    )


# --- a points adjustment ---------------------------------------------------------------------

ADJUST = "adjust_points"


@staff_page(ADJUST)
@require_http_methods(["GET", "POST"])
def member_adjust(request: HttpRequest, number: str) -> HttpResponse:
    """Add points to a member's wallet or take some back, with a reason: the form,
    then a check page (the balance after and the cap left today), then the
    confirmation, which posts once whatever the number of presses."""
    member = member_pages.member_or_404(number)
    partner = _partner(request)
    form = AdjustmentForm(request.POST or None)
    checking = False
    if request.method == "POST" and form.is_valid():
        if request.POST.get("step") == "confirm":
            try:
                result = adjustments.adjust_points(
                    partner=partner,
                    member=member,
                    points=form.signed_points(),
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    idempotency=IdempotencyKey(
                        f"console:{partner.pk}:adjust", form.cleaned_data["idempotency_key"]
                    ),
                )
            except DomainError as error:
                show_domain_error(form, error)
            else:
                points = result.adjustment.points
                messages.success(
                    request,
                    (
                        _("%(points)s points added. The member now has %(balance)s points.")
                        if points > 0
                        else _(
                            "%(points)s points taken back. The member now has %(balance)s points."
                        )
                    )
                    % {
                        "points": f"{abs(points):,}",
                        "balance": f"{result.adjustment.balance_after:,}",
                    },
                )
                return HttpResponseRedirect(reverse("console:member", args=[member.member_number]))
        else:
            checking = True
    points_now = ledger_selectors.balance(member.pk)
    # A partner takes back only points it issued (the domain refuses the rest).
    yours = ledger_selectors.points_issued_by(member.pk, partner.pk)
    cap = adjustment_selectors.cap_today(partner)
    wanted = form.signed_points() if checking else 0
    return render_page(
        request,
        "loyalty_web/console/member_adjust.html",
        _context(
            request,
            member=member,
            profile=_profile(member),
            form=form,
            checking=checking,
            adding=wanted > 0,
            wanted=abs(wanted),
            balance=points_now,
            balance_after=points_now + wanted,
            yours=yours,
            affordable=wanted >= 0 or -wanted <= yours,
            cap=cap,
            within_cap=abs(wanted) <= cap.left,
            cap_left_after=cap.left - abs(wanted),
        ),
        status=400 if form.errors else 200,
    )
