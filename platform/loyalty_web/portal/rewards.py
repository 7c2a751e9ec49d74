"""The portal's rewards across brands and the member's vouchers: the coalition
catalogue with its filters, redeeming a reward (a check page, then the voucher),
the list of vouchers, one voucher with its QR code and barcode, and cancelling it."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coalition.catalogue.selectors import (
    catalogue_categories,
    catalogue_entry,
    catalogue_page,
    catalogue_partners,
)
from coalition.ledger.selectors import balance
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import Page
from loyalty_web.portal.access import member_page, portal_context
from loyalty_web.portal.forms import RedeemForm, RewardFilterForm
from loyalty_web.portal.voucher_codes import barcode_svg, qr_code_svg
from tenants.rewards.errors import UnknownVoucher
from tenants.rewards.self_service import (
    MEMBER_CHANNEL,
    MemberVoucher,
    member_reward_redeem,
    member_voucher,
    member_voucher_cancel,
    member_vouchers,
    stores_to_use,
)

PAGE_SIZE = 24


def _after(raw: str) -> tuple[int, int] | None:
    """The catalogue's cursor "<points price>.<id>"; anything else is the first page."""
    price, _, entry_id = raw.partition(".")
    if price.isdigit() and entry_id.isdigit() and len(price) < 12 and len(entry_id) < 19:
        return int(price), int(entry_id)
    return None


def _voucher_url(partner_slug: str, code: str) -> str:
    return f"/portal/vouchers/{partner_slug}/{code}/"


@member_page
@require_GET
def rewards(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    points = balance(member.pk)
    form = RewardFilterForm(
        request.GET or None, partners=catalogue_partners(), categories=catalogue_categories()
    )
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    max_points = filters.get("max_points")
    if filters.get("affordable"):
        max_points = points if max_points is None else min(max_points, points)
    partner = filters.get("partner")
    found = catalogue_page(
        first=PAGE_SIZE,
        after=_after(request.GET.get("after", "")),
        max_points=max_points,
        min_points=filters.get("min_points"),
        partner_ids=[partner] if partner else None,
        channel=MEMBER_CHANNEL,
        search=(filters.get("q") or "").strip() or None,
        category=filters.get("category") or None,
    )
    next_after = found.next_after
    page: Page[object] = Page(
        items=list(found.entries),
        next_cursor=f"{next_after[0]}.{next_after[1]}" if next_after else None,
        first_page="after" not in request.GET,
    )
    return render_page(
        request,
        "loyalty_web/portal/rewards.html",
        portal_context(
            request,
            "rewards",
            form=form,
            page=page,
            rows=[(entry, max(0, entry.points_price - points)) for entry in found.entries],
            balance=points,
            next_query=page.next_query(request.GET),
            first_query=page.first_query(request.GET),
        ),
        partial="loyalty_web/portal/rewards_results.html",
        status=400 if form.errors else 200,
    )


@member_page
@require_http_methods(["GET", "POST"])
def reward_redeem(request: HttpRequest, entry_id: int) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    entry = catalogue_entry(entry_id)
    if entry is None:
        raise Http404(_("This reward is no longer available."))
    form = RedeemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            voucher = member_reward_redeem(
                member_id=member.pk,
                partner_slug=entry.partner.slug,
                reward_code=entry.code,
                idempotency=IdempotencyKey(
                    f"portal:member:{member.pk}", form.cleaned_data["idempotency_key"]
                ),
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Your voucher for %(reward)s is ready. Show it at %(partner)s.")
                % {"reward": voucher.reward_name, "partner": voucher.partner_name},
            )
            return HttpResponseRedirect(_voucher_url(voucher.partner_slug, voucher.code))
    points = balance(member.pk)
    return render_page(
        request,
        "loyalty_web/portal/reward_redeem.html",
        portal_context(
            request,
            "rewards",
            entry=entry,
            form=form,
            balance=points,
            balance_after=points - entry.points_price,
            affordable=points >= entry.points_price,
            shortfall=max(0, entry.points_price - points),
        ),
        status=400 if form.errors else 200,
    )


@member_page
@require_GET
def vouchers(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    now = clock.now()
    rows = [(voucher, voucher.state(now)) for voucher in member_vouchers(member_id=member.pk)]
    return render_page(
        request,
        "loyalty_web/portal/vouchers.html",
        portal_context(request, "vouchers", rows=rows),
    )


def _own_voucher_or_404(member_id: int, partner_slug: str, code: str) -> MemberVoucher:
    try:
        return member_voucher(member_id=member_id, partner_slug=partner_slug, code=code)
    except UnknownVoucher:
        raise Http404(_("You have no such voucher.")) from None


@member_page
@require_GET
def voucher(request: HttpRequest, partner_slug: str, code: str) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    found = _own_voucher_or_404(member.pk, partner_slug, code)
    state = found.state(clock.now())
    return render_page(
        request,
        "loyalty_web/portal/voucher.html",
        portal_context(
            request,
            "vouchers",
            voucher=found,
            state=state,
            qr=qr_code_svg(found.code) if state == "usable" else None,
            barcode=barcode_svg(found.code) if state == "usable" else None,
            stores=stores_to_use(partner_slug=found.partner_slug),
        ),
    )


@member_page
@require_POST
def voucher_cancel(request: HttpRequest, partner_slug: str, code: str) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    found = _own_voucher_or_404(member.pk, partner_slug, code)
    try:
        cancelled = member_voucher_cancel(
            member_id=member.pk, partner_slug=partner_slug, code=found.code
        )
    except DomainError:
        messages.error(
            request,
            _("This voucher can no longer be cancelled: it was used, cancelled or has expired."),
        )
    else:
        messages.success(
            request,
            _("Voucher cancelled: %(points)s points are back in your balance.")
            % {"points": cancelled.points},
        )
    return HttpResponseRedirect(_voucher_url(found.partner_slug, found.code))
