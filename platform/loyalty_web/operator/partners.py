"""Partner pages of the operator console: the list (filters, keyset pages, CSV),
each partner's page (key figures, status history), the onboarding wizard
(details -> settlement terms -> first owner -> Stripe Connect link) and the lifecycle moves
(activate, suspend, offboard) behind a confirmation with a reason.

Each view reads its input, calls one operator service or selector, and renders;
a domain error is shown next to the field it names.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.mail import send_mail
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from coalition.analytics.selectors import partner_figures
from coalition.members.selectors import members_enrolled_count
from coalition.operators import selectors, services
from coalition.settlement.selectors import partner_position
from coalition.settlement.stripe.gateway import connect_onboarding_link
from coalition.settlement.terms import terms_in_force
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.design.exports import csv_response
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import cursor_of, keyset_page, page_links
from loyalty_web.operator.access import may, operator_context, operator_page
from loyalty_web.operator.forms import OnboardForm, OwnerForm, PartnerFilterForm, StatusForm
from tenants.partners.models import STATUS_TRANSITIONS, Partner, PartnerStatus
from tenants.staff import services as staff_services

PAGE_SIZE = 25
FIGURE_DAYS = 30

STATUS_TAGS = {
    PartnerStatus.ONBOARDING: "tag--warn",
    PartnerStatus.ACTIVE: "tag--ok",
    PartnerStatus.SUSPENDED: "tag--bad",
    PartnerStatus.OFFBOARDED: "",
}
STATUS_WORDS = {
    PartnerStatus.ONBOARDING: gettext_lazy("Onboarding"),
    PartnerStatus.ACTIVE: gettext_lazy("Active"),
    PartnerStatus.SUSPENDED: gettext_lazy("Suspended"),
    PartnerStatus.OFFBOARDED: gettext_lazy("Offboarded"),
}
# The lifecycle moves, as the buttons and confirmation pages name them.
MOVES: dict[str, dict[str, Any]] = {
    PartnerStatus.ACTIVE: {
        "verb": gettext_lazy("Activate"),
        "explain": gettext_lazy(
            "The partner's members earn and spend points there, and it settles each period."
        ),
        "css": "button",
    },
    PartnerStatus.SUSPENDED: {
        "verb": gettext_lazy("Suspend"),
        "explain": gettext_lazy(
            "While suspended, members cannot earn or spend points there and holds cannot be "
            "captured. Its history and balances stay; you can reactivate it later."
        ),
        "css": "button button--warning",
    },
    PartnerStatus.OFFBOARDED: {
        "verb": gettext_lazy("Offboard"),
        "explain": gettext_lazy(
            "Offboarding is final: the partner can no longer earn, burn or settle anew. "
            "Its schema and all ledger history stay."
        ),
        "css": "button button--warning",
    },
}


def _status(status: str) -> dict[str, str]:
    return {"key": status, "label": str(STATUS_WORDS[PartnerStatus(status)]),
            "css": STATUS_TAGS[PartnerStatus(status)]}  # fmt: skip


def _partner(slug: str) -> Any:
    partner = selectors.partner_for_operator(slug)
    if partner is None:
        raise Http404
    return partner


def _host_url(request: HttpRequest, host: str, path: str) -> str:
    """An address on a partner's host, on the scheme and port this request came to."""
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    return f"{request.scheme}://{host}{'' if port == default else ':' + port}{path}"


def terms_in_force_for(partner_id: int) -> Any:
    return terms_in_force(clock.now(), partner_id=partner_id).get(partner_id)


def _moves(partner: Partner) -> list[dict[str, Any]]:
    return [
        {"to": to, "verb": MOVES[to]["verb"], "css": MOVES[to]["css"]}
        for to in (PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED, PartnerStatus.OFFBOARDED)
        if to in STATUS_TRANSITIONS[partner.status]
    ]


# --- the list ---------------------------------------------------------------------------------


@operator_page("view_partners")
def partner_list(request: HttpRequest) -> HttpResponseBase:
    form = PartnerFilterForm(
        request.GET or None,
        statuses=[(value, STATUS_WORDS[PartnerStatus(value)]) for value in PartnerStatus.values],
    )
    filters = form.cleaned_data if form.is_valid() else {}
    status = filters.get("status", "")
    currency = (filters.get("currency") or "").strip().upper()
    text = (filters.get("q") or "").strip()
    if request.GET.get("format") == "csv":
        rows = selectors.partners_listed(status=status, currency=currency, text=text)
        return csv_response(
            "partners.csv",
            ["name", "slug", "status", "currency", "time_zone", "domain", "created_at"],
            (
                [p.name, p.slug, p.status, p.default_currency, p.time_zone, p.host or "",
                 p.created_at.isoformat()]
                for p in rows.iterator()
            ),
        )  # fmt: skip
    page = keyset_page(
        selectors.partners_listed(
            status=status, currency=currency, text=text, before_id=cursor_of(request.GET)
        ),
        size=PAGE_SIZE,
        first_page=cursor_of(request.GET) is None,
    )
    return render_page(
        request,
        "loyalty_web/operator/partners.html",
        operator_context(
            request,
            "partners",
            form=form,
            rows=[{"partner": p, "status": _status(p.status)} for p in page.items],
            **page_links(page, request.GET),
            can_onboard=may(request, "onboard_partners"),
        ),
        partial="loyalty_web/operator/partner_rows.html",
    )


# --- one partner ----------------------------------------------------------------------------


@operator_page("view_partners")
def partner_detail(request: HttpRequest, slug: str) -> HttpResponseBase:
    partner = _partner(slug)
    zone = ZoneInfo(partner.time_zone)
    today = clock.now().astimezone(zone).date()
    figures = partner_figures(
        partner_id=partner.pk, time_zone=partner.time_zone, today=today, days=FIGURE_DAYS
    )
    midnight = datetime.combine(today, time.min, tzinfo=zone)
    enrolled = members_enrolled_count(
        partner_id=partner.pk,
        since=midnight - timedelta(days=FIGURE_DAYS - 1),
        until=midnight + timedelta(days=1),
    )
    try:
        position = partner_position(partner)
    except DomainError:  # no settlement terms yet: nothing to show
        position = None
    return render_page(
        request,
        "loyalty_web/operator/partner.html",
        operator_context(
            request,
            "partners",
            partner=partner,
            status=_status(partner.status),
            issued=sum(d.issued for d in figures.days),
            redeemed=sum(d.redeemed for d in figures.days),
            active_members=figures.active_members_period,
            enrolled=enrolled,
            days=FIGURE_DAYS,
            position=position,
            net_abs=abs(position.statement.net) if position else 0,
            history=[
                {"change": c, "from": _status(c.from_status) if c.from_status else None,
                 "to": _status(c.to_status)}
                for c in selectors.partner_status_history(partner.pk)[:50]
            ],
            moves=_moves(partner) if may(request, "change_partner_status") else [],
            host_url=_host_url(request, partner.host, "/") if partner.host else "",
            terms=terms_in_force_for(partner.pk),
        ),
    )  # fmt: skip


# --- onboarding wizard ----------------------------------------------------------------------


@operator_page("onboard_partners")
@require_http_methods(["GET", "POST"])
def onboard(request: HttpRequest) -> HttpResponseBase:
    """Step 1: the partner's details -> its schema, domain and status history."""
    form = OnboardForm(request.POST or None, initial={"request_key": uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            partner, created = services.operator_partner_onboard(
                request_key=f"operator:{data['request_key']}",
                name=data["name"],
                slug=data["slug"],
                default_currency=data["default_currency"],
                time_zone=data["time_zone"],
                contact_email=data["contact_email"],
                acting_user=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            if created:
                messages.success(
                    request,
                    _("%(name)s is set up at %(host)s. Now set its settlement terms.")
                    % {"name": partner.name, "host": partner.get_primary_domain().domain},
                )
            return HttpResponseRedirect(reverse("operator:onboard_terms", args=[partner.slug]))
    return render_page(
        request,
        "loyalty_web/operator/onboard.html",
        operator_context(request, "partners", form=form, step=1),
        status=400 if form.errors else 200,
    )


@operator_page("onboard_partners")
@require_http_methods(["GET", "POST"])
def onboard_owner(request: HttpRequest, slug: str) -> HttpResponseBase:
    """Step 3: the partner's first owner, invited by e-mail to the partner's console."""
    partner = _partner(slug)
    form = OwnerForm(request.POST or None, initial={"email": partner.contact_email})
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = staff_services.staff_invite(
                partner_id=partner.pk,
                email=form.cleaned_data["email"],
                role="owner",
                acting_user=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            link = _host_url(request, partner.host, f"/invitations/{token}/")
            send_mail(
                subject=_("You are invited to the %(partner)s console") % {"partner": partner.name},
                message=_(
                    "You have been invited to run %(partner)s in the coalition as its owner.\n\n"
                    "Accept the invitation and choose a password here (the link works once, "
                    "for 7 days):\n%(link)s\n"
                )
                % {"partner": partner.name, "link": link},
                from_email=None,
                recipient_list=[invitation.email],
            )
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return HttpResponseRedirect(reverse("operator:onboard_payouts", args=[partner.slug]))
    return render_page(
        request,
        "loyalty_web/operator/onboard_owner.html",
        operator_context(request, "partners", form=form, partner=partner, step=3),
        status=400 if form.errors else 200,
    )


@operator_page("onboard_partners")
@require_http_methods(["GET", "POST"])
def onboard_payouts(request: HttpRequest, slug: str) -> HttpResponseBase:
    """Step 4: the Stripe Connect onboarding link the partner follows to be paid."""
    partner = _partner(slug)
    link = error = None
    if request.method == "POST":
        here = request.build_absolute_uri(request.path)
        try:
            link = connect_onboarding_link(
                partner=partner,
                refresh_url=here,
                return_url=request.build_absolute_uri(
                    reverse("operator:partner", args=[partner.slug])
                ),
            )
        except DomainError as refused:
            error = refused.message
        partner = _partner(slug)
    return render_page(
        request,
        "loyalty_web/operator/onboard_payouts.html",
        operator_context(request, "partners", partner=partner, step=4, link=link, error=error),
    )


# --- lifecycle ---------------------------------------------------------------------------------


@operator_page("change_partner_status")
@require_http_methods(["GET", "POST"])
def partner_status(request: HttpRequest, slug: str, to_status: str) -> HttpResponseBase:
    partner = _partner(slug)
    if to_status not in MOVES:
        raise Http404
    form = StatusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.operator_partner_status(
                partner=partner,
                to_status=to_status,
                reason=form.cleaned_data["reason"],
                acting_user=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(
                request,
                _("%(name)s is now %(status)s.")
                % {
                    "name": partner.name,
                    "status": str(STATUS_WORDS[PartnerStatus(to_status)]).lower(),
                },
            )
            return HttpResponseRedirect(reverse("operator:partner", args=[partner.slug]))
    return render_page(
        request,
        "loyalty_web/operator/partner_status.html",
        operator_context(
            request,
            "partners",
            partner=partner,
            status=_status(partner.status),
            move=MOVES[to_status],
            allowed=to_status in STATUS_TRANSITIONS[partner.status],
            form=form,
        ),
        status=400 if form.errors else 200,
    )
