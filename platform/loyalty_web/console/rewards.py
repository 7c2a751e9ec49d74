"""Reward pages of the merchant console: the list with each reward's state, price,
stock left, limit per member, channels, validity and vouchers issued (filters and
CSV); create and edit forms; retire (after a confirmation) and restore.

Every member of staff may read them; owners and managers ("configure_programme")
change them. Each view reads its input, calls one rewards service or selector,
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

from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.console.access import staff_page
from loyalty_web.console.programme import CONFIGURE, READ, _context, _partner
from loyalty_web.console.reward_forms import CHANNELS, RewardForm
from loyalty_web.design.exports import csv_response
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import cursor_of, keyset_page, page_links
from loyalty_web.design.status_tags import status_tag
from tenants.rewards import selectors as reward_selectors
from tenants.rewards import services as rewards
from tenants.rewards.errors import RewardCodeTaken
from tenants.rewards.models import Reward

PAGE_SIZE = 25

STATE_LABELS = {
    "active": (gettext_lazy("Active"), "tag--ok"),
    "not_yet_valid": (gettext_lazy("Not yet valid"), "tag--warn"),
    "expired": (gettext_lazy("Expired"), ""),
    "out_of_stock": (gettext_lazy("Out of stock"), "tag--bad"),
    "retired": (gettext_lazy("Retired"), ""),
}
CHANNEL_LABELS = dict(CHANNELS)


def _channels(reward: Reward) -> str:
    if not reward.channels:
        return _("Every channel")
    return ", ".join(str(CHANNEL_LABELS.get(c, c)) for c in reward.channels)


def _row(summary: reward_selectors.RewardSummary) -> dict[str, Any]:
    return {
        "reward": summary.reward,
        "state": status_tag(STATE_LABELS, summary.state),
        "channels": _channels(summary.reward),
        "issued": summary.vouchers_issued,
    }


def _reward(code: str) -> Reward:
    reward = reward_selectors.reward_by_code(code)
    if reward is None:
        raise Http404
    return reward


def _filters(request: HttpRequest) -> dict[str, str]:
    state = request.GET.get("state", "")
    return {
        "state": state if state in STATE_LABELS else "",
        "category": request.GET.get("category", "").strip()[:60],
        "search": request.GET.get("q", "").strip()[:120],
    }


@staff_page(READ)
def reward_list(request: HttpRequest) -> HttpResponseBase:
    partner = _partner(request)
    zone = ZoneInfo(partner.time_zone)
    now = clock.now()
    filters = _filters(request)
    if request.GET.get("format") == "csv":
        summaries = reward_selectors.reward_summaries(
            now=now, state=filters["state"], category=filters["category"], search=filters["search"]
        )

        def moment(value: Any) -> str:
            return value.astimezone(zone).isoformat() if value else ""

        return csv_response(
            f"rewards-{partner.slug}.csv",
            ["code", "name", "category", "state", "points_price", "stock_left",
             "per_member_limit", "channels", "valid_from", "valid_until",
             "voucher_validity_days", "in_catalogue", "vouchers_issued"],
            (
                [s.reward.code, s.reward.name, s.reward.category, s.state, s.reward.points_price,
                 "" if s.reward.stock is None else s.reward.stock,
                 "" if s.reward.per_member_limit is None else s.reward.per_member_limit,
                 " ".join(s.reward.channels), moment(s.reward.valid_from),
                 moment(s.reward.valid_until), s.reward.voucher_validity_days,
                 "yes" if s.reward.in_catalogue else "no", s.vouchers_issued]
                for s in summaries
            ),
        )  # fmt: skip
    after = cursor_of(request.GET)
    summaries = reward_selectors.reward_summaries(
        now=now,
        state=filters["state"],
        category=filters["category"],
        search=filters["search"],
        before_id=after,
        limit=PAGE_SIZE + 1,
    )
    page = keyset_page(
        summaries, size=PAGE_SIZE, id_of=lambda s: s.reward.pk, first_page=after is None
    )
    return render_page(
        request,
        "loyalty_web/console/rewards.html",
        _context(
            request,
            "rewards",
            rows=[_row(s) for s in page.items],
            filters=filters,
            states=[(key, str(label)) for key, (label, _css) in STATE_LABELS.items()],
            categories=reward_selectors.reward_categories(),
            **page_links(page, request.GET),
            zone=partner.time_zone,
        ),
        partial="loyalty_web/console/reward_rows.html",
    )


def _show_error(form: RewardForm, error: DomainError) -> None:
    if isinstance(error, RewardCodeTaken):
        form.add_error("code", _("Another reward has this code. Choose a different code."))
        return
    show_domain_error(form, error)


def _form_page(request: HttpRequest, form: RewardForm, reward: Reward | None) -> HttpResponse:
    partner = _partner(request)
    return render_page(
        request,
        "loyalty_web/console/reward_form.html",
        _context(
            request,
            "rewards",
            form=form,
            reward=reward,
            zone_hint=_("In %(zone)s time. Leave empty for no limit.")
            % {"zone": partner.time_zone},
        ),
        status=400 if form.errors else 200,
    )


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def reward_create(request: HttpRequest) -> HttpResponse:
    form = RewardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reward = rewards.reward_create(
                code=form.cleaned_data["code"],
                **form.settings(_partner(request).time_zone),
                actor=request.user,
                request_key=f"console:{form.key()}",
            )
        except DomainError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("Reward “%(name)s” created.") % {"name": reward.name})
            return HttpResponseRedirect(reverse("console:rewards"))
    return _form_page(request, form, None)


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def reward_edit(request: HttpRequest, code: str) -> HttpResponse:
    reward = _reward(code)
    zone = ZoneInfo(_partner(request).time_zone)
    initial = {
        "name": reward.name,
        "description": reward.description,
        "category": reward.category,
        "points_price": reward.points_price,
        "stock": reward.stock,
        "per_member_limit": reward.per_member_limit,
        "valid_from": reward.valid_from.astimezone(zone) if reward.valid_from else None,
        "valid_until": reward.valid_until.astimezone(zone) if reward.valid_until else None,
        "channels": list(reward.channels),
        "voucher_validity_days": reward.voucher_validity_days,
        "in_catalogue": reward.in_catalogue,
    }
    form = RewardForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            rewards.reward_update(
                code=reward.code, **form.settings(_partner(request).time_zone), actor=request.user
            )
        except DomainError as error:
            _show_error(form, error)
        else:
            name = form.cleaned_data["name"]
            messages.success(request, _("Reward “%(name)s” saved.") % {"name": name})
            return HttpResponseRedirect(reverse("console:rewards"))
    return _form_page(request, form, reward)


def _summary(reward: Reward) -> dict[str, Any]:
    summary = reward_selectors.reward_summaries(now=clock.now(), before_id=reward.pk + 1, limit=1)
    return _row(summary[0])


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def reward_retire(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the confirmation page; POST: take the reward off sale."""
    reward = _reward(code)
    if request.method == "POST":
        try:
            rewards.reward_retire(code=reward.code, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Reward “%(name)s” is retired: members cannot redeem it any more.")
                % {"name": reward.name},
            )
        return HttpResponseRedirect(reverse("console:rewards"))
    return render_page(
        request,
        "loyalty_web/console/reward_retire.html",
        _context(request, "rewards", row=_summary(reward)),
    )


@staff_page(CONFIGURE)
@require_POST
def reward_restore(request: HttpRequest, code: str) -> HttpResponse:
    reward = _reward(code)
    try:
        rewards.reward_restore(code=reward.code, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Reward “%(name)s” is back on offer.") % {"name": reward.name})
    return HttpResponseRedirect(reverse("console:rewards"))
