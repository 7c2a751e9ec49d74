"""Member support pages of the operator console: look a member up (e-mail, member
number or card), read their page (status, contact, balance, tier, points by
issuer and what expires soon, recent activity, what support did), their history
at every partner (filters, keyset pages, CSV), block and unblock them with a
reason, and erase them (GDPR) behind a check page and a typed confirmation.

Read-only staff look (``view_members``) and see the e-mail address masked; admins
and support see it whole (``see_member_contact``) and act (``support_members``).
Each view reads its input, calls one service or selector, and renders; a domain
error is shown next to the field it names.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from coalition.audit.selectors import audit_entries_about
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.wallet import member_wallet
from coalition.members import selectors as member_selectors
from coalition.members import services as member_services
from coalition.members.models import Member, MemberStatus
from coalition.tiers.selectors import tier_code_of
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.design import member_pages
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import cursor_of
from loyalty_web.operator.access import denied, may, operator_context, operator_page
from loyalty_web.operator.members_forms import MemberEraseForm, MemberStatusForm

VIEW = "view_members"
SUPPORT = "support_members"
HISTORY_PAGE_SIZE = 50
RECENT_ACTIVITY = 10
LOTS_ON_PAGE = 20
SUPPORT_ENTRIES = 20

STATUS_LABELS = {
    MemberStatus.ACTIVE: (gettext_lazy("Active"), "tag--ok"),
    MemberStatus.BLOCKED: (gettext_lazy("Blocked"), "tag--bad"),
    MemberStatus.ERASED: (gettext_lazy("Erased"), ""),
}
# What each audited support action is called on the member's page.
SUPPORT_ACTIONS = {
    "member.block": gettext_lazy("Blocked"),
    "member.unblock": gettext_lazy("Unblocked"),
    "member.erase": gettext_lazy("Erased"),
    "points.adjust": gettext_lazy("Points adjusted by a partner"),
    "goodwill.propose": gettext_lazy("Coalition goodwill proposed"),
    "goodwill.propose.posted": gettext_lazy("Coalition goodwill given"),
    "goodwill.approve": gettext_lazy("Coalition goodwill approved"),
    "goodwill.reject": gettext_lazy("Coalition goodwill rejected"),
    "goodwill.expire": gettext_lazy("Coalition goodwill proposal expired"),
}
MOVES: dict[str, dict[str, Any]] = {
    MemberStatus.BLOCKED: {
        "verb": gettext_lazy("Block"),
        "explain": gettext_lazy(
            "While blocked, the member cannot sign in to the portal (a session already open "
            "stops working), earn, spend, transfer or receive points, and no partner can adjust "
            "their points. Points payments already authorised can still be captured or voided, "
            "returns still take points back, and their points still expire. You can unblock "
            "them later."
        ),
        "css": "button button--warning",
        "done": gettext_lazy("Member %(number)s is blocked."),
    },
    MemberStatus.ACTIVE: {
        "verb": gettext_lazy("Unblock"),
        "explain": gettext_lazy(
            "The member can sign in, earn and spend points again at every partner."
        ),
        "css": "button",
        "done": gettext_lazy("Member %(number)s is active again."),
    },
}


# The domain's refusals in the page's words (and language), by stable code.
ERROR_WORDS = {
    "member_support_reason_missing": gettext_lazy(
        "Say why, in 500 characters or fewer, for the member's record in the audit log"
    ),
    "member_erasure_not_confirmed": gettext_lazy(
        "Type the member number exactly as shown above to confirm the erasure"
    ),
    "member_not_active": gettext_lazy("The member was erased: their status cannot change"),
}


def _show(form: Any, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(ERROR_WORDS.get(error.code, error.message)))


def _profile(request: HttpRequest, member: Member) -> dict[str, Any]:
    label, css = STATUS_LABELS.get(MemberStatus(member.status), (member.status, ""))
    whole = may(request, "see_member_contact") and member.status != MemberStatus.ERASED
    return {
        "number": member.member_number,
        "email": member.email if whole else member_selectors.masked_email(member),
        "email_masked": not whole,
        "phone": (member.phone or "") if whole else "",
        "status": member.status,
        "status_label": str(label),
        "status_css": css,
        "erased": member.status == MemberStatus.ERASED,
        "blocked": member.status == MemberStatus.BLOCKED,
        "enrolled_at": member.enrolled_at,
        "erased_at": member.erased_at,
        "enrolled_by": member.enrolled_by.name if member.enrolled_by else "",
    }


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return operator_context(
        request,
        "members",
        can_support=may(request, SUPPORT),
        can_give_goodwill=may(request, "propose_goodwill"),
        can_export=may(request, "export"),
        **extra,
    )


# --- look-up -------------------------------------------------------------------------------


@operator_page(VIEW)
def member_search(request: HttpRequest) -> HttpResponseBase:
    """A match opens the member's page; no match says so."""
    lookup = member_pages.member_look_up(request.GET)
    if lookup.found is not None:
        return HttpResponseRedirect(reverse("operator:member", args=[lookup.found.member_number]))
    return render_page(
        request,
        "loyalty_web/operator/members/search.html",
        _context(request, form=lookup.form, not_found=lookup.not_found),
        status=400 if lookup.form.errors else 200,
    )


# --- the member's page ------------------------------------------------------------------------


def _support_entries(member: Member) -> list[dict[str, Any]]:
    rows = []
    for entry in audit_entries_about(object_type="member", object_id=member.member_number)[
        :SUPPORT_ENTRIES
    ]:
        after = entry.after or {}
        rows.append(
            {
                "at": entry.at,
                "what": SUPPORT_ACTIONS.get(
                    f"{entry.action}.{after.get('status')}",
                    SUPPORT_ACTIONS.get(entry.action, entry.action),
                ),
                "who": entry.actor_label,
                "reason": after.get("decision") or after.get("reason", ""),
                "points": after.get("points"),
            }
        )
    return rows


@operator_page(VIEW)
def member_detail(request: HttpRequest, number: str) -> HttpResponseBase:
    member = member_pages.member_or_404(number)
    lots = ledger_selectors.lots_page(
        member.pk, after=cursor_of(request.GET, "lots_after"), limit=LOTS_ON_PAGE
    )
    wallet = member_wallet(member.pk, now=clock.now())
    return render_page(
        request,
        "loyalty_web/operator/members/member.html",
        _context(
            request,
            member=member,
            profile=_profile(request, member),
            wallet=wallet,
            tier=tier_code_of(member.pk),
            lots=lots,
            activity=member_pages.recent_activity(member, limit=RECENT_ACTIVITY),
            support=_support_entries(member),
            moves=[
                {"to": to, **MOVES[to]}
                for to in (MemberStatus.BLOCKED, MemberStatus.ACTIVE)
                if member.status not in (to, MemberStatus.ERASED)
            ],
        ),
    )


# --- history -------------------------------------------------------------------------------


@operator_page(VIEW)
def member_history(request: HttpRequest, number: str) -> HttpResponseBase:
    """Every points movement of the member at every partner, newest first; days
    are the coalition's (UTC)."""
    member = member_pages.member_or_404(number)
    form, filters = member_pages.history_filter_form(request, ZoneInfo(settings.TIME_ZONE))
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        return member_pages.history_csv(member, filters)
    return render_page(
        request,
        "loyalty_web/operator/members/history.html",
        _context(
            request,
            member=member,
            profile=_profile(request, member),
            form=form,
            **member_pages.history_page(request, member, filters, size=HISTORY_PAGE_SIZE),
        ),
        partial="loyalty_web/operator/members/history_rows.html",
        status=400 if form.errors else 200,
    )


# --- block and unblock -----------------------------------------------------------------------


@operator_page(SUPPORT)
@require_http_methods(["GET", "POST"])
def member_status(request: HttpRequest, number: str, to_status: str) -> HttpResponseBase:
    member = member_pages.member_or_404(number)
    if to_status not in MOVES:
        raise Http404
    form = MemberStatusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member, changed = member_services.member_status_change(
                member_id=member.pk,
                status=to_status,
                reason=form.cleaned_data["reason"],
                acting_user=request.user,
            )
        except DomainError as error:
            _show(form, error)
        else:
            if changed:
                messages.success(
                    request, str(MOVES[to_status]["done"]) % {"number": member.member_number}
                )
            return HttpResponseRedirect(reverse("operator:member", args=[member.member_number]))
    return render_page(
        request,
        "loyalty_web/operator/members/status.html",
        _context(
            request,
            member=member,
            profile=_profile(request, member),
            move=MOVES[to_status],
            allowed=member.status not in (to_status, MemberStatus.ERASED),
            form=form,
        ),
        status=400 if form.errors else 200,
    )


# --- erasure ---------------------------------------------------------------------------------


@operator_page(SUPPORT)
@require_http_methods(["GET", "POST"])
def member_erase(request: HttpRequest, number: str) -> HttpResponseBase:
    """The check page (what is erased, what is kept) and the typed confirmation."""
    member = member_pages.member_or_404(number)
    form = MemberEraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member, erased = member_services.member_erase_by_operator(
                member_id=member.pk,
                confirmation=form.cleaned_data["confirmation"],
                reason=form.cleaned_data["reason"],
                acting_user=request.user,
            )
        except DomainError as error:
            _show(form, error)
        else:
            if erased:
                messages.success(
                    request,
                    _("Member %(number)s is erased. Their points history stays in the books.")
                    % {"number": member.member_number},
                )
            return HttpResponseRedirect(reverse("operator:member", args=[member.member_number]))
    return render_page(
        request,
        "loyalty_web/operator/members/erase.html",
        _context(
            request,
            member=member,
            profile=_profile(request, member),
            balance=ledger_selectors.balance(member.pk),
            form=form,
        ),
        status=400 if form.errors else 200,
    )
