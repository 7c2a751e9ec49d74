"""The programme pages of the operator console: what is in force (an overview),
the tier levels with their qualification and grace rules, the expiry policy with
the countries where points expire only after inactivity, the yearly transfer caps
per tier, the charities members donate to, and the coalition-wide rules (partners'
daily adjustment cap, the goodwill four-eyes threshold) with their history; each
list with CSV.

Every operator may read them ("view_programme"); only admins change them
("configure_programme"). Each view reads its input, calls one domain service or
selector, and renders; the rules (thresholds that increase, one level per rank, a
short name taken) and the audit live in the domain services, and a domain error
is shown next to the field it names.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from coalition.audit.selectors import audit_entries_everywhere
from coalition.charity import selectors as charity_selectors
from coalition.charity import services as charity_services
from coalition.expiry import services as expiry_services
from coalition.expiry.selectors import expiry_policy
from coalition.rules import services as rules_services
from coalition.rules.selectors import coalition_rules
from coalition.tiers import selectors as tier_selectors
from coalition.tiers import services as tier_services
from coalition.transfers import services as transfer_services
from coalition.transfers.models import TransferKind
from coalition.transfers.selectors import transfer_caps_table
from loyalty_kernel.errors import DomainError
from loyalty_web.design.exports import csv_response
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.operator.access import denied, may, operator_context, operator_page
from loyalty_web.operator.programme_forms import (
    EXPIRY_MODE_WORDS,
    QUALIFICATION_WORDS,
    TRANSFER_KIND_WORDS,
    CharityAddForm,
    CharityForm,
    CoalitionRulesForm,
    ExpiryPolicyForm,
    TierLevelAddForm,
    TierLevelForm,
    TierPolicyForm,
    TransferCapsForm,
)

READ = "view_programme"
CONFIGURE = "configure_programme"


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return operator_context(request, "programme", can_configure=may(request, CONFIGURE), **extra)


def _policy_words() -> dict[str, Any]:
    policy = tier_selectors.tier_policy()
    return {
        "qualification": QUALIFICATION_WORDS.get(policy.qualification, policy.qualification),
        "grace_days": policy.grace_days,
    }


# --- overview ----------------------------------------------------------------------------


@operator_page(READ)
def programme_home(request: HttpRequest) -> HttpResponseBase:
    charities = charity_selectors.charities_listed()
    return render_page(
        request,
        "loyalty_web/operator/programme/home.html",
        _context(
            request,
            levels=tier_selectors.tier_levels_listed(),
            policy=_policy_words(),
            expiry=expiry_policy(),
            rules=coalition_rules(),
            charities_active=sum(1 for charity in charities if charity.is_active),
            charities_inactive=sum(1 for charity in charities if not charity.is_active),
            caps_count=sum(
                1
                for row in transfer_caps_table()
                for points in row.caps.values()
                if points is not None
            ),
        ),
    )


# --- tier levels and policy -------------------------------------------------------------


@operator_page(READ)
def tier_levels(request: HttpRequest) -> HttpResponseBase:
    levels = tier_selectors.tier_levels_listed()
    if request.GET.get("format") == "csv":
        return csv_response(
            "tier-levels.csv",
            ["rank", "code", "name", "qualifying_points"],
            ([level.rank, level.code, level.name, level.threshold_points] for level in levels),
        )
    return render_page(
        request,
        "loyalty_web/operator/programme/tiers.html",
        _context(request, levels=levels, policy=_policy_words()),
    )


@operator_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def tier_level_add(request: HttpRequest) -> HttpResponseBase:
    form = TierLevelAddForm(request.POST or None, initial={"request_key": uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            level, _added = tier_services.tier_level_add(
                code=data["code"],
                name=data["name"],
                threshold_points=data["threshold_points"],
                request_key=f"operator-tier:{data['request_key']}",
                actor=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(request, _("Level %(name)s added.") % {"name": level.name})
            return HttpResponseRedirect(reverse("operator:programme_tiers"))
    levels = tier_selectors.tier_levels_listed()
    return render_page(
        request,
        "loyalty_web/operator/programme/tier_form.html",
        _context(request, form=form, level=None, top=levels[-1] if levels else None),
        status=400 if form.errors else 200,
    )


@operator_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def tier_level_edit(request: HttpRequest, code: str) -> HttpResponseBase:
    level = tier_selectors.tier_level_of(code)
    if level is None:
        raise Http404
    form = TierLevelForm(
        request.POST or None,
        initial={"name": level.name, "threshold_points": level.threshold_points},
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = tier_services.tier_level_change(
                code=code,
                name=form.cleaned_data["name"],
                threshold_points=form.cleaned_data["threshold_points"],
                actor=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(request, _("Level %(name)s saved.") % {"name": changed.name})
            return HttpResponseRedirect(reverse("operator:programme_tiers"))
    return render_page(
        request,
        "loyalty_web/operator/programme/tier_form.html",
        _context(request, form=form, level=level, top=None),
        status=400 if form.errors else 200,
    )


@operator_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def tier_policy(request: HttpRequest) -> HttpResponseBase:
    policy = tier_selectors.tier_policy()
    form = TierPolicyForm(
        request.POST or None,
        initial={"qualification": policy.qualification, "grace_days": policy.grace_days},
    )
    if request.method == "POST" and form.is_valid():
        try:
            tier_services.tier_policy_set(
                qualification=form.cleaned_data["qualification"],
                grace_days=form.cleaned_data["grace_days"],
                actor=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(request, _("Qualification and grace saved."))
            return HttpResponseRedirect(reverse("operator:programme_tiers"))
    return render_page(
        request,
        "loyalty_web/operator/programme/tier_policy.html",
        _context(request, form=form),
        status=400 if form.errors else 200,
    )


# --- charities --------------------------------------------------------------------------


@operator_page(READ)
def charities(request: HttpRequest) -> HttpResponseBase:
    rows = charity_selectors.charities_listed()
    if request.GET.get("format") == "csv":
        return csv_response(
            "charities.csv",
            ["slug", "name", "registration_number", "currency", "point_value",
             "stripe_account", "active", "added"],
            (
                [c.slug, c.name, c.registration_number, c.currency, c.point_value,
                 c.stripe_account_id, "yes" if c.is_active else "no", c.created_at.isoformat()]
                for c in rows
            ),
        )  # fmt: skip
    return render_page(
        request,
        "loyalty_web/operator/programme/charities.html",
        _context(request, charities=rows),
    )


@operator_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def charity_add(request: HttpRequest) -> HttpResponseBase:
    form = CharityAddForm(request.POST or None, initial={"request_key": uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            charity, _added = charity_services.charity_add(
                slug=data["slug"],
                name=data["name"],
                registration_number=data["registration_number"],
                currency=data["currency"],
                point_value=data["point_value"],
                stripe_account_id=data["stripe_account_id"],
                request_key=f"operator-charity:{data['request_key']}",
                actor=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(request, _("Charity %(name)s added.") % {"name": charity.name})
            return HttpResponseRedirect(reverse("operator:programme_charities"))
    return render_page(
        request,
        "loyalty_web/operator/programme/charity_form.html",
        _context(request, form=form, charity=None),
        status=400 if form.errors else 200,
    )


@operator_page(CONFIGURE)
@require_http_methods(["GET", "POST"])
def charity_edit(request: HttpRequest, slug: str) -> HttpResponseBase:
    charity = charity_selectors.charity_of(slug)
    if charity is None:
        raise Http404
    form = CharityForm(
        request.POST or None,
        initial={
            "name": charity.name,
            "registration_number": charity.registration_number,
            "point_value": charity.point_value,
            "stripe_account_id": charity.stripe_account_id,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            changed = charity_services.charity_change(
                slug=slug,
                name=data["name"],
                registration_number=data["registration_number"],
                point_value=data["point_value"],
                stripe_account_id=data["stripe_account_id"],
                actor=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(request, _("Charity %(name)s saved.") % {"name": changed.name})
            return HttpResponseRedirect(reverse("operator:programme_charities"))
    return render_page(
        request,
        "loyalty_web/operator/programme/charity_form.html",
        _context(request, form=form, charity=charity),
        status=400 if form.errors else 200,
    )


@operator_page(CONFIGURE)
@require_POST
def charity_active(request: HttpRequest, slug: str, to: str) -> HttpResponseBase:
    if to not in ("active", "inactive"):
        raise Http404
    try:
        charity, changed = charity_services.charity_set_active(
            slug=slug, active=to == "active", actor=request.user
        )
    except DomainError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("operator:programme_charities"))
    if not changed:
        messages.info(request, _("Nothing to change: it was done already."))
    elif charity.is_active:
        messages.success(request, _("%(name)s takes donations again.") % {"name": charity.name})
    else:
        messages.success(request, _("%(name)s no longer takes donations.") % {"name": charity.name})
    return HttpResponseRedirect(reverse("operator:programme_charities"))


# --- expiry -----------------------------------------------------------------------------


@operator_page(READ)
@require_http_methods(["GET", "POST"])
def expiry(request: HttpRequest) -> HttpResponseBase:
    """The policy in force and, for admins, its form (its POST sets it)."""
    policy = expiry_policy()
    if request.method == "GET" and request.GET.get("format") == "csv":
        return csv_response(
            "expiry-inactivity-only-countries.csv",
            ["country", "rule", "inactivity_months"],
            ([code, "inactivity_only", policy.inactivity_months]
             for code in policy.inactivity_only_countries),
        )  # fmt: skip
    if request.method == "POST" and not may(request, CONFIGURE):
        return denied(request)
    form = ExpiryPolicyForm(
        request.POST or None,
        initial={
            "mode": policy.mode,
            "months": policy.months,
            "inactivity_months": policy.inactivity_months,
            "reminder_days": policy.reminder_days,
            "inactivity_only_countries": ", ".join(policy.inactivity_only_countries),
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            expiry_services.expiry_policy_set(
                mode=data["mode"],
                months=data["months"],
                inactivity_months=data["inactivity_months"],
                reminder_days=data["reminder_days"],
                inactivity_only_countries=data["inactivity_only_countries"],
                actor=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            messages.success(request, _("Expiry policy saved."))
            return HttpResponseRedirect(reverse("operator:programme_expiry"))
    return render_page(
        request,
        "loyalty_web/operator/programme/expiry.html",
        _context(
            request,
            policy=policy,
            mode_word=EXPIRY_MODE_WORDS.get(policy.mode, policy.mode),
            form=form,
        ),
        status=400 if form.errors else 200,
    )


# --- transfer caps ----------------------------------------------------------------------


@operator_page(READ)
@require_http_methods(["GET", "POST"])
def transfer_caps(request: HttpRequest) -> HttpResponseBase:
    """The caps table; for admins its cells are inputs and its POST sets them."""
    rows = transfer_caps_table()
    if request.method == "GET" and request.GET.get("format") == "csv":
        return csv_response(
            "transfer-caps.csv",
            ["tier_code", "tier", "kind", "yearly_points"],
            (
                [row.tier_code or "default", row.tier_name, kind,
                 "" if points is None else points]
                for row in rows for kind, points in row.caps.items()
            ),
        )  # fmt: skip
    if request.method == "POST" and not may(request, CONFIGURE):
        return denied(request)
    form = TransferCapsForm(request.POST or None, rows=rows)
    if request.method == "POST" and form.is_valid():
        try:
            changed = transfer_services.transfer_caps_set(caps=form.caps(), actor=request.user)
        except DomainError as error:
            show_domain_error(form, error)
        else:
            if changed:
                messages.success(request, _("Transfer caps saved."))
            else:
                messages.info(request, _("Nothing to change: it was done already."))
            return HttpResponseRedirect(reverse("operator:programme_transfer_caps"))
    kinds = [(kind, TRANSFER_KIND_WORDS[kind]) for kind in TransferKind.values]
    return render_page(
        request,
        "loyalty_web/operator/programme/transfer_caps.html",
        _context(
            request,
            kinds=kinds,
            rows=[
                {"row": row, "cells": [
                    {"kind": kind, "word": word, "points": row.caps[kind],
                     "field": form[f"{kind}__{row.tier_code}"]}
                    for kind, word in kinds
                ]}
                for row in rows
            ],
            form=form,
        ),
        status=400 if form.errors else 200,
    )  # fmt: skip


# --- coalition rules --------------------------------------------------------------------

RULES_HISTORY = 20


@operator_page(READ)
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest) -> HttpResponseBase:
    """The coalition-wide rules in force, their changes (who, when, why; CSV) and,
    for admins, the form that changes them with a reason."""
    history = list(audit_entries_everywhere(action_prefix="programme.rules_change")[:RULES_HISTORY])
    if request.method == "GET" and request.GET.get("format") == "csv":
        return csv_response(
            "coalition-rules-history.csv",
            ["changed_at", "changed_by", "adjustment_daily_cap_before",
             "adjustment_daily_cap", "goodwill_approval_threshold_before",
             "goodwill_approval_threshold", "reason"],
            ([entry.at.isoformat(), entry.actor_label,
              (entry.before or {}).get("adjustment_daily_cap", ""),
              (entry.after or {}).get("adjustment_daily_cap", ""),
              (entry.before or {}).get("goodwill_approval_threshold", ""),
              (entry.after or {}).get("goodwill_approval_threshold", ""),
              (entry.after or {}).get("reason", "")] for entry in history),
        )  # fmt: skip
    if request.method == "POST" and not may(request, CONFIGURE):
        return denied(request)
    in_force = coalition_rules()
    form = CoalitionRulesForm(
        request.POST or None,
        initial={
            "adjustment_daily_cap": in_force.adjustment_daily_cap,
            "goodwill_approval_threshold": in_force.goodwill_approval_threshold,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            change = rules_services.coalition_rules_set(
                adjustment_daily_cap=data["adjustment_daily_cap"],
                goodwill_approval_threshold=data["goodwill_approval_threshold"],
                reason=data["reason"],
                actor=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            if change.changed:
                messages.success(request, _("Coalition rules saved."))
            else:
                messages.info(request, _("Nothing to change: these rules are in force already."))
            return HttpResponseRedirect(reverse("operator:programme_rules"))
    return render_page(
        request,
        "loyalty_web/operator/programme/rules.html",
        _context(
            request,
            rules=in_force,
            history=[
                {"entry": entry, "before": entry.before or {}, "after": entry.after or {}}
                for entry in history
            ],
            form=form,
        ),
        status=400 if form.errors else 200,
    )
