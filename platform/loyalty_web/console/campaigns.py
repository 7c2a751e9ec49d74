"""Campaign pages of the merchant console: the list with each campaign's state,
time window and live budget consumption; a create form for every campaign kind
the engine supports; pause, resume and end (final, after a confirmation).

Every member of staff may read them; owners and managers ("configure_programme")
change them. Each view reads its input, calls one earning service or selector,
and renders; a domain error is shown next to the field it names.
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
from django.views.decorators.http import require_http_methods, require_POST

from coalition.tiers.models import TierLevel
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.console.access import staff_page
from loyalty_web.console.campaign_forms import CAMPAIGN_KINDS, CampaignForm, in_zone
from loyalty_web.console.programme import CONFIGURE, READ, _context, _partner
from loyalty_web.design.exports import csv_response
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import cursor_of, keyset_page, page_links
from loyalty_web.design.status_tags import status_tag
from tenants.earning import selectors as earning_selectors
from tenants.earning import services as earning
from tenants.earning.models import Campaign

PAGE_SIZE = 25

STATE_LABELS = {
    "running": (gettext_lazy("Running"), "tag--ok"),
    "scheduled": (gettext_lazy("Scheduled"), "tag--warn"),
    "paused": (gettext_lazy("Paused"), "tag--bad"),
    "ended": (gettext_lazy("Ended"), ""),
}
KIND_LABELS = dict(CAMPAIGN_KINDS)


def describe_campaign(campaign: Campaign) -> str:
    """What the campaign gives, in words."""
    params = campaign.params
    if campaign.kind == "multiplier":
        return _("%(m)s times the points") % {"m": params.get("multiplier")}
    if campaign.kind == "category_multiplier":
        return _("%(m)s times the points on %(category)s") % {
            "m": params.get("multiplier"),
            "category": params.get("category"),
        }
    if campaign.kind == "first_purchase_bonus":
        return _("%(points)s bonus points on a first purchase") % {"points": params.get("points")}
    return _("%(points)s bonus points per purchase") % {"points": params.get("points")}


def _audience(campaign: Campaign) -> str:
    parts = []
    if campaign.tiers:
        parts.append(_("Tiers: %(tiers)s") % {"tiers": ", ".join(campaign.tiers)})
    if campaign.segments:
        parts.append(_("Segments: %(segments)s") % {"segments": ", ".join(campaign.segments)})
    return "; ".join(parts) or _("All members")


def _row(summary: earning_selectors.CampaignSummary, zone: ZoneInfo) -> dict[str, Any]:
    campaign = summary.campaign
    return {
        "campaign": campaign,
        "state": status_tag(STATE_LABELS, summary.state),
        "what": describe_campaign(campaign),
        "audience": _audience(campaign),
        "starts": campaign.starts_at.astimezone(zone),
        "ends": campaign.ends_at.astimezone(zone),
        "budget": campaign.budget_points,
        "issued": summary.issued,
        "left": summary.left,
        "percent": summary.percent_used,
    }


def _campaign(campaign_id: int) -> Campaign:
    campaign = earning_selectors.campaign_by_id(campaign_id)
    if campaign is None:
        raise Http404
    return campaign


@staff_page(READ)
def campaign_list(request: HttpRequest) -> HttpResponseBase:
    partner = _partner(request)
    zone = ZoneInfo(partner.time_zone)
    now = clock.now()
    state = request.GET.get("state", "")
    state = state if state in STATE_LABELS else ""
    if request.GET.get("format") == "csv":
        summaries = earning_selectors.campaign_summaries(now=now, state=state)
        return csv_response(
            f"campaigns-{partner.slug}.csv",
            ["id", "name", "kind", "state", "starts_at", "ends_at", "tiers", "segments",
             "budget_points", "issued_points"],
            (
                [s.campaign.pk, s.campaign.name, s.campaign.kind, s.state,
                 s.campaign.starts_at.astimezone(zone).isoformat(),
                 s.campaign.ends_at.astimezone(zone).isoformat(),
                 " ".join(s.campaign.tiers), " ".join(s.campaign.segments),
                 "" if s.campaign.budget_points is None else s.campaign.budget_points, s.issued]
                for s in summaries
            ),
        )  # fmt: skip
    after = cursor_of(request.GET)
    summaries = earning_selectors.campaign_summaries(
        now=now, before_id=after, state=state, limit=PAGE_SIZE + 1
    )
    page = keyset_page(
        summaries, size=PAGE_SIZE, id_of=lambda s: s.campaign.pk, first_page=after is None
    )
    return render_page(
        request,
        "loyalty_web/console/campaigns.html",
        _context(
            request,
            "campaigns",
            rows=[_row(s, zone) for s in page.items],
            state=state,
            states=[(key, str(label)) for key, (label, _css) in STATE_LABELS.items()],
            **page_links(page, request.GET),
            zone=partner.time_zone,
        ),
        partial="loyalty_web/console/campaign_rows.html",
    )


def _tier_choices() -> list[tuple[str, str]]:
    return [(t.code, t.name) for t in TierLevel.objects.order_by("rank")]


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    form = CampaignForm(
        request.POST or None,
        tiers=_tier_choices(),
        segments=earning_selectors.segment_names(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = earning.campaign_create(
                name=data["name"],
                kind=data["kind"],
                params=form.params(),
                starts_at=in_zone(data["starts_at"], partner.time_zone),
                ends_at=in_zone(data["ends_at"], partner.time_zone),
                tiers=list(data["tiers"]),
                segments=list(data["segments"]),
                budget_points=data["budget_points"],
                actor=request.user,
                request_key=f"console:{form.key()}",
            )
        except DomainError as error:
            form.add_error(form.field_of(error.field), error.message)
        else:
            messages.success(request, _("Campaign “%(name)s” created.") % {"name": campaign.name})
            return HttpResponseRedirect(reverse("console:campaigns"))
    return render_page(
        request,
        "loyalty_web/console/campaign_form.html",
        _context(
            request,
            "campaigns",
            form=form,
            zone_hint=_("In %(zone)s time.") % {"zone": partner.time_zone},
        ),
        status=400 if form.errors else 200,
    )


def _change(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    campaign = _campaign(campaign_id)
    service = {
        "pause": earning.campaign_pause,
        "resume": earning.campaign_resume,
        "end": earning.campaign_end,
    }[action]
    try:
        service(campaign_id=campaign.pk, actor=request.user, now=clock.now())
    except DomainError as error:
        messages.error(request, error.message)
    else:
        done = {
            "pause": _("Campaign “%(name)s” is paused: it gives no points until you resume it."),
            "resume": _("Campaign “%(name)s” is active again."),
            "end": _("Campaign “%(name)s” has ended. It gives no more points."),
        }[action]
        messages.success(request, done % {"name": campaign.name})
    return HttpResponseRedirect(reverse("console:campaigns"))


@staff_page(CONFIGURE)
@require_POST
def campaign_pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _change(request, campaign_id, "pause")


@staff_page(CONFIGURE)
@require_POST
def campaign_resume(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _change(request, campaign_id, "resume")


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def campaign_end(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """GET: the confirmation page (ending is final); POST: end it."""
    if request.method == "POST":
        return _change(request, campaign_id, "end")
    campaign = _campaign(campaign_id)
    summary = earning_selectors.campaign_summaries(
        now=clock.now(), before_id=campaign.pk + 1, limit=1
    )[0]
    return render_page(
        request,
        "loyalty_web/console/campaign_end.html",
        _context(
            request,
            "campaigns",
            row=_row(summary, ZoneInfo(_partner(request).time_zone)),
        ),
    )
