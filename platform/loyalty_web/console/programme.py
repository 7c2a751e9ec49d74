"""Programme pages of the merchant console: stores, earn rule versions (drafts, an
editor per rule kind, a preview calculator, publication, history and comparison)
and the value of a point paid at the till.

Every member of staff may read these pages; owners and managers
("configure_programme") change them. Each view reads its input, calls one domain
service or selector, and renders; a domain error is shown next to the field it
names.

The module is longer than 500 lines because the rule pages (versions, the editor
per kind, preview, compare) share the version and rule look-ups and the one
permission rule of the area; split the stores out if the area grows again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_kernel.money import MINOR_UNITS
from loyalty_web.console.access import nav_for, staff_page
from loyalty_web.console.programme_forms import (
    RULE_FORMS,
    DraftForm,
    PointValueForm,
    PreviewForm,
    PublishForm,
    StoreForm,
)
from loyalty_web.console.views import console_context
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.design.rule_words import describe_changes, describe_rule, kind_label
from loyalty_web.design.status_tags import status_tag
from tenants.earning import engine
from tenants.earning import selectors as earning_selectors
from tenants.earning import services as earning
from tenants.earning.errors import VersionNotDraft
from tenants.earning.models import EarnRule, RuleSetVersion
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPaymentSettings
from tenants.staff.selectors import staff_can
from tenants.stores import services as stores
from tenants.stores.models import Store
from tenants.stores.selectors import stores_of_partner

CONFIGURE = "configure_programme"
READ = "view_dashboard"


def _partner(request: HttpRequest) -> Any:
    return request.tenant  # type: ignore[attr-defined]


def _can_configure(request: HttpRequest) -> bool:
    return staff_can(getattr(request, "staff_role", None), CONFIGURE)


def _denied(request: HttpRequest) -> HttpResponse:
    """What staff who may read but not change a page get when they try to change it."""
    role = getattr(request, "staff_role", None)
    return render(
        request,
        "loyalty_web/console/denied.html",
        {"partner": _partner(request), "role": role, "nav": nav_for(role)},
        status=403,
    )


def _context(request: HttpRequest, current: str, **extra: Any) -> dict[str, Any]:
    return console_context(request, current, can_configure=_can_configure(request), **extra)


# --- stores ------------------------------------------------------------------------------


@staff_page(READ)
def store_list(request: HttpRequest) -> HttpResponse:
    return render_page(
        request,
        "loyalty_web/console/stores.html",
        _context(request, "stores", stores=list(stores_of_partner())),
    )


def _store(code: str) -> Store:
    store = Store.objects.filter(code=code).first()
    if store is None:
        raise Http404
    return store


def _store_form_page(
    request: HttpRequest,
    form: StoreForm,
    store: Store | None,
    save: Callable[[dict[str, Any]], Store],
    done: str,
) -> HttpResponse:
    """The store form (a new store, or ``store``): a valid POST saves it and goes back
    to the list; a refusal is shown on the form."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(request, done % {"code": saved.code})
            return HttpResponseRedirect(reverse("console:stores"))
    return render_page(
        request,
        "loyalty_web/console/store_form.html",
        _context(request, "stores", form=form, store=store),
        status=400 if form.errors else 200,
    )


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def store_create(request: HttpRequest) -> HttpResponse:
    form = StoreForm(request.POST or None, initial={"time_zone": _partner(request).time_zone})
    return _store_form_page(
        request,
        form,
        None,
        lambda data: stores.store_create(**data, actor=request.user),
        _("Store %(code)s added."),
    )


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def store_edit(request: HttpRequest, code: str) -> HttpResponse:
    store = _store(code)
    initial = {
        "name": store.name,
        "channel": store.channel,
        "city": store.city,
        "time_zone": store.time_zone,
    }
    form = StoreForm(request.POST or None, initial=initial, editing=True)
    return _store_form_page(
        request,
        form,
        store,
        lambda data: stores.store_update(code=store.code, **data, actor=request.user),
        _("Store %(code)s saved."),
    )


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def store_close(request: HttpRequest, code: str) -> HttpResponse:
    store = _store(code)
    if request.method == "POST":
        stores.store_close(code=store.code, actor=request.user)
        messages.success(
            request,
            _("Store %(code)s is closed. The store locator no longer lists it.")
            % {"code": store.code},
        )
        return HttpResponseRedirect(reverse("console:stores"))
    return render_page(
        request,
        "loyalty_web/console/store_close.html",
        _context(request, "stores", store=store),
    )


@staff_page(CONFIGURE)
@require_POST
def store_reopen(request: HttpRequest, code: str) -> HttpResponse:
    store = stores.store_reopen(code=_store(code).code, actor=request.user)
    messages.success(request, _("Store %(code)s is open again.") % {"code": store.code})
    return HttpResponseRedirect(reverse("console:stores"))


# --- earn rules: versions ----------------------------------------------------------------

STATUS_LABELS = {
    "draft": (gettext_lazy("Draft"), ""),
    "scheduled": (gettext_lazy("Scheduled"), "tag--warn"),
    "in_force": (gettext_lazy("In force"), "tag--ok"),
    "superseded": (gettext_lazy("Replaced"), ""),
}


def _version(number: int) -> RuleSetVersion:
    version = earning_selectors.rule_version(number)
    if version is None:
        raise Http404
    return version


@staff_page(READ)
def rule_versions(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    summaries = earning_selectors.rule_versions(now=now)
    in_force = next((s.version for s in summaries if s.status == "in_force"), None)
    rows = [
        {
            "version": s.version,
            "status": status_tag(STATUS_LABELS, s.status),
            "rule_count": s.rule_count,
        }
        for s in summaries
    ]
    return render_page(
        request,
        "loyalty_web/console/rules.html",
        _context(
            request,
            "rules",
            rows=rows,
            in_force=in_force,
            draft_form=DraftForm(),
            zone=_partner(request).time_zone,
        ),
    )


@staff_page(CONFIGURE)
@require_POST
def rule_draft_create(request: HttpRequest) -> HttpResponse:
    form = DraftForm(request.POST)
    copy_from = None
    if request.POST.get("copy_from"):
        try:
            copy_from = earning_selectors.rule_version(int(request.POST["copy_from"]))
        except ValueError:
            copy_from = None
    if not form.is_valid():
        messages.error(request, _("Enter a description of 200 characters or fewer"))
        return HttpResponseRedirect(reverse("console:rules"))
    try:
        draft = earning.ruleset_draft_create(
            description=form.cleaned_data["description"], copy_from=copy_from, actor=request.user
        )
    except DomainError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("console:rules"))
    messages.success(request, _("Draft version %(number)s started.") % {"number": draft.number})
    return HttpResponseRedirect(reverse("console:rule_version", args=[draft.number]))


def _rule_rows(version: RuleSetVersion) -> list[dict[str, Any]]:
    return [
        {
            "rule": rule,
            "kind_label": kind_label(rule.kind),
            "text": describe_rule(rule.kind, rule.params),
            "editable": rule.kind in RULE_FORMS
            and not (rule.kind == "base_rate" and len(rule.params.get("rates") or {}) > 1),
        }
        for rule in earning_selectors.version_rules(version)
    ]


def _local(instant: datetime | None, zone: str) -> datetime | None:
    return instant.astimezone(ZoneInfo(zone)) if instant else None


@staff_page(READ)
@require_http_methods(["GET", "POST"])
def rule_version(request: HttpRequest, number: int) -> HttpResponse:
    """A version's rules in words; for a draft, the editor and the publish form
    (a POST here publishes)."""
    version = _version(number)
    partner = _partner(request)
    form = PublishForm(request.POST or None)
    if request.method == "POST":
        if not _can_configure(request):
            return _denied(request)
        if form.is_valid():
            response = _publish(request, version, form)
            if response is not None:
                return response
    now = clock.now()
    status = earning_selectors.version_status(version, earning_selectors.version_in_force(now), now)
    newer = RuleSetVersion.objects.filter(number__lt=version.number).order_by("-number").first()
    return render_page(
        request,
        "loyalty_web/console/rule_version.html",
        _context(
            request,
            "rules",
            version=version,
            status=status_tag(STATUS_LABELS, status),
            rules=_rule_rows(version),
            kinds=[(kind, kind_label(kind)) for kind in RULE_FORMS],
            form=form,
            previous=newer,
            zone=partner.time_zone,
            publish_hint=_("Only if you chose a date and time: in %(zone)s time, not in the past.")
            % {"zone": partner.time_zone},
            effective_local=_local(version.effective_from, partner.time_zone),
        ),
        status=400 if form.errors else 200,
    )


def _publish(
    request: HttpRequest, version: RuleSetVersion, form: PublishForm
) -> HttpResponse | None:
    zone = ZoneInfo(_partner(request).time_zone)
    now = clock.now()
    if form.cleaned_data["when"] == "now":
        effective_from = now
    else:
        effective_from = timezone.make_aware(
            form.cleaned_data["effective_from"].replace(tzinfo=None), zone
        )
    try:
        published = earning.ruleset_publish(
            version=version, effective_from=effective_from, now=now, actor=request.user
        )
    except VersionNotDraft:
        # A second press of the button, or someone else was quicker: nothing to do.
        messages.info(
            request,
            _("Version %(number)s is already published.") % {"number": version.number},
        )
        return HttpResponseRedirect(reverse("console:rule_version", args=[version.number]))
    except DomainError as error:
        show_domain_error(form, error)
        return None
    at = _local(published.effective_from, zone.key)
    messages.success(
        request,
        _("Version %(number)s is published. It applies to purchases from %(at)s.")
        % {"number": published.number, "at": f"{at:%d %b %Y %H:%M} ({zone.key})" if at else ""},
    )
    return HttpResponseRedirect(reverse("console:rule_version", args=[version.number]))


def _rule_of(version: RuleSetVersion, rule_id: int) -> EarnRule:
    rule = EarnRule.objects.filter(pk=rule_id, version=version).first()
    if rule is None:
        raise Http404
    return rule


@staff_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, number: int, rule_id: int | None = None) -> HttpResponse:
    """Add a rule of the kind asked for to a draft, or change one of its rules."""
    version = _version(number)
    rule = _rule_of(version, rule_id) if rule_id is not None else None
    kind = rule.kind if rule is not None else request.GET.get("kind", "")
    if kind not in RULE_FORMS:
        messages.error(request, _("Choose the kind of rule to add"))
        return HttpResponseRedirect(reverse("console:rule_version", args=[version.number]))
    if version.published_at is not None:
        messages.error(
            request,
            _("Version %(number)s is published and cannot change: start a new draft.")
            % {"number": version.number},
        )
        return HttpResponseRedirect(reverse("console:rule_version", args=[version.number]))
    form_class = RULE_FORMS[kind]
    initial: dict[str, Any] = {}
    if rule is not None:
        initial = {"name": rule.name, **form_class.initial_from(rule.params)}
    elif kind in ("base_rate", "minimum_spend"):
        initial = {"currency": _partner(request).default_currency}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                earning.rule_add(
                    version=version,
                    kind=kind,
                    params=form.to_params(),
                    name=form.cleaned_data["name"],
                    actor=request.user,
                )
            else:
                earning.rule_update(
                    rule=rule,
                    params=form.to_params(),
                    name=form.cleaned_data["name"],
                    actor=request.user,
                )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(
                request,
                (_("Rule added: %(text)s") if rule is None else _("Rule changed: %(text)s"))
                % {"text": describe_rule(kind, form.to_params())},
            )
            return HttpResponseRedirect(reverse("console:rule_version", args=[version.number]))
    return render_page(
        request,
        "loyalty_web/console/rule_form.html",
        _context(
            request, "rules", version=version, rule=rule, form=form, kind=kind,
            kind_name=kind_label(kind),
        ),
        status=400 if form.errors else 200,
    )  # fmt: skip


@staff_page(CONFIGURE)
@require_POST
def rule_remove(request: HttpRequest, number: int, rule_id: int) -> HttpResponse:
    version = _version(number)
    rule = EarnRule.objects.filter(pk=rule_id, version=version).first()
    if rule is None:  # removed already (a second press): the page shows what is left
        return HttpResponseRedirect(reverse("console:rule_version", args=[version.number]))
    text = describe_rule(rule.kind, rule.params)
    try:
        earning.rule_remove(rule=rule, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Rule removed: %(text)s") % {"text": text})
    return HttpResponseRedirect(reverse("console:rule_version", args=[version.number]))


EXAMPLE_BASKET = "COFFEE-250, coffee, 2, 4.50\nAPPLE-1, fruit, 6, 0.40"


@staff_page(READ)
def rule_preview(request: HttpRequest, number: int) -> HttpResponse:
    """What a basket would earn under this version and today's campaigns (GET:
    every preview has a URL)."""
    version = _version(number)
    partner = _partner(request)
    bound = "basket" in request.GET
    form = PreviewForm(
        request.GET if bound else None,
        initial={"currency": partner.default_currency, "basket": EXAMPLE_BASKET},
    )
    result = None
    if bound and form.is_valid():
        data = form.cleaned_data
        lines = tuple(engine.BasketLine(*line) for line in data["lines"])
        basket = engine.Basket(
            currency=data["currency"], lines=lines, total=sum(line.net for line in lines)
        )
        try:
            breakdown = earning_selectors.ruleset_preview(
                version=version,
                basket=basket,
                at=clock.now(),
                tier=data["tier"].strip(),
                first_purchase=data["first_purchase"],
            )
        except DomainError as error:
            if error.field in ("lines", "total", "tax", "paid_with_points"):
                form.add_error("basket", error.message)
            else:
                show_domain_error(form, error)
        else:
            result = _preview_result(breakdown, basket)
    return render_page(
        request,
        "loyalty_web/console/rule_preview.html",
        _context(request, "rules", version=version, form=form, result=result),
        partial="loyalty_web/console/rule_preview_result.html",
        status=400 if form.errors else 200,
    )


def _preview_result(breakdown: engine.Breakdown, basket: engine.Basket) -> dict[str, Any]:
    return {
        "total": breakdown.total,
        "rule_points": breakdown.rule_points,
        "campaign_points": sum(breakdown.campaign_points.values()),
        "spend": sum(line.net for line in basket.lines),
        "eligible": breakdown.eligible_amount,
        "currency": basket.currency,
        "contributions": [
            {
                "source": _("Campaign") if c.source == "campaign" else _("Rule"),
                "what": c.description if c.source == "campaign" else kind_label(c.kind),
                "detail": "" if c.source == "campaign" else c.description,
                "points": f"{c.points.normalize():f}" if c.points else "0",
            }
            for c in breakdown.contributions
        ],
    }


@staff_page(READ)
def rule_compare(request: HttpRequest) -> HttpResponse:
    """Two versions side by side: which rules were added, removed or changed."""
    numbers = list(RuleSetVersion.objects.order_by("-number").values_list("number", flat=True))
    try:
        older_number = int(request.GET.get("from", ""))
        newer_number = int(request.GET.get("to", ""))
    except ValueError:
        newer_number = numbers[0] if numbers else 0
        older_number = numbers[1] if len(numbers) > 1 else newer_number
    older = earning_selectors.rule_version(older_number)
    newer = earning_selectors.rule_version(newer_number)
    changes = None
    if older is not None and newer is not None:
        changes = describe_changes(earning_selectors.versions_compare(older, newer))
    return render_page(
        request,
        "loyalty_web/console/rule_compare.html",
        _context(
            request,
            "rules",
            numbers=numbers,
            older=older,
            newer=newer,
            older_number=older_number,
            newer_number=newer_number,
            changes=changes,
        ),
    )


# --- the value of a point at the till ---------------------------------------------------


def _major(value_minor: Decimal, currency: str) -> Decimal:
    return value_minor.scaleb(-MINOR_UNITS.get(currency, 2)).normalize()


@staff_page(READ)
@require_http_methods(["GET", "POST"])
def point_value(request: HttpRequest) -> HttpResponseBase:
    partner = _partner(request)
    current = PointsPaymentSettings.objects.order_by("id").first()
    currency = current.currency if current else partner.default_currency
    initial = {"value": f"{_major(current.value_per_point, currency):f}"} if current else {}
    form = PointValueForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not _can_configure(request):
            return _denied(request)
        if form.is_valid():
            try:
                rewards.payment_value_set(
                    value_per_point=form.cleaned_data["value"].scaleb(MINOR_UNITS[currency]),
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error("value", error.message)
            else:
                messages.success(request, _("The value of a point is saved."))
                return HttpResponseRedirect(reverse("console:point_value"))
    example = None
    if current is not None:
        hundred = rewards.amount_for_points(100, current.value_per_point)
        example = {"points": 100, "amount": hundred, "currency": currency}
    return render_page(
        request,
        "loyalty_web/console/point_value.html",
        _context(
            request,
            "point_value",
            form=form,
            settings_row=current,
            currency=currency,
            current_major=f"{_major(current.value_per_point, currency):f}" if current else None,
            example=example,
        ),
        status=400 if form.errors else 200,
    )
