"""Settlement terms pages of the operator console: a partner's versions (with
CSV), new terms (a form, then a preview of what the last closed period would
have cost under them, then a confirmation), and the same form as a step of the
onboarding wizard.

The rules are the domain's (``coalition.settlement.proposals``); the views parse,
call it and render. A domain error is shown next to the field it names.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from coalition.operators import selectors, services
from coalition.settlement.models import LineKind
from coalition.settlement.proposals import terms_currency, terms_preview, terms_propose
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.design.exports import csv_response
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.operator.access import may, operator_context, operator_page
from loyalty_web.operator.forms import TermsConfirmForm, TermsForm
from loyalty_web.operator.partners import _partner
from tenants.partners.models import Partner

VALUES = ("issuance_price", "reimbursement_rate", "fee_percent", "fee_fixed",
          "breakage_share_percent")  # fmt: skip

STATE_WORDS = {
    "in_force": (gettext_lazy("In force"), "tag--ok"),
    "scheduled": (gettext_lazy("Scheduled"), "tag--warn"),
    "past": (gettext_lazy("Past"), ""),
}
LINE_WORDS = {
    LineKind.ISSUED: gettext_lazy("Points issued"),
    LineKind.ISSUED_REVERSAL: gettext_lazy("Points taken back (returns, adjustments)"),
    LineKind.REDEEMED: gettext_lazy("Points redeemed"),
    LineKind.REDEEMED_REVERSAL: gettext_lazy("Redemptions reversed"),
    LineKind.BREAKAGE_SHARE: gettext_lazy("Breakage share"),
    LineKind.FEE_PERCENT: gettext_lazy("Fee on the issued amount"),
    LineKind.FEE_FIXED: gettext_lazy("Fixed fee"),
}


def terms_in_force_row(partner: Partner) -> Any:
    """The version in force now (for the partner's page), or None."""
    history = selectors.partner_terms_history(partner.pk, now=clock.now())
    return next((row for row in history if row.state == "in_force"), None)


@operator_page("view_partners")
def terms_history(request: HttpRequest, slug: str) -> HttpResponseBase:
    partner = _partner(slug)
    history = selectors.partner_terms_history(partner.pk, now=clock.now())
    if request.GET.get("format") == "csv":
        return csv_response(
            f"terms-{partner.slug}.csv",
            ["effective_from", "state", "currency", "issuance_price", "reimbursement_rate",
             "fee_percent", "fee_fixed", "breakage_share_percent", "set_by", "set_at"],
            (
                [row.terms.effective_from.isoformat(), row.state, row.terms.currency,
                 row.terms.issuance_price, row.terms.reimbursement_rate, row.terms.fee_percent,
                 row.terms.fee_fixed, row.terms.breakage_share_percent, row.set_by,
                 row.terms.created_at.isoformat()]
                for row in history
            ),
        )  # fmt: skip
    return render_page(
        request,
        "loyalty_web/operator/terms.html",
        operator_context(
            request,
            "partners",
            partner=partner,
            rows=[
                {"version": row, "state": STATE_WORDS[row.state][0],
                 "css": STATE_WORDS[row.state][1]}
                for row in history
            ],
            can_set=may(request, "manage_terms"),
        ),
    )  # fmt: skip


def _effective_from(partner: Partner, on: Any) -> datetime:
    """Now, or midnight of the chosen day in the partner's time zone."""
    if on is None:
        return clock.now()
    return datetime.combine(on, time.min, tzinfo=ZoneInfo(partner.time_zone))


def _show_error(form: TermsForm, error: DomainError) -> None:
    """The domain names the instant ``effective_from``; the form asks for a day."""
    if error.field == "effective_from":
        form.add_error("effective_on", error.message)
    else:
        show_domain_error(form, error)


def _form_page(request: HttpRequest, slug: str, *, wizard: bool) -> HttpResponseBase:
    """The form; once it parses, the domain checks the proposal and the preview is
    shown (nothing is written until it is confirmed)."""
    partner = _partner(slug)
    # "Change them" on the preview comes back with the values in the query: filled in
    prefill = {name: request.GET[name] for name in (*VALUES, "effective_on") if name in request.GET}
    form = TermsForm(request.POST or None, initial=prefill or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            proposed = terms_propose(
                partner=partner,
                effective_from=_effective_from(partner, data["effective_on"]),
                **{name: data[name] for name in VALUES},
            )
        except DomainError as error:
            _show_error(form, error)
        else:
            preview = terms_preview(proposed=proposed)
            confirm = TermsConfirmForm(
                initial={"effective_from": proposed.effective_from.isoformat(),
                         "wizard": wizard, **{name: data[name] for name in VALUES}}
            )  # fmt: skip
            return render_page(
                request,
                "loyalty_web/operator/terms_preview.html",
                operator_context(
                    request,
                    "partners",
                    partner=partner,
                    proposed=proposed,
                    preview=preview,
                    lines=[
                        {"label": LINE_WORDS.get(LineKind(line.kind), line.kind), "line": line}
                        for line in preview.lines
                    ],
                    confirm=confirm,
                    change_query=urlencode(
                        {
                            "effective_on": data["effective_on"].isoformat()
                            if data["effective_on"]
                            else "",
                            **{name: data[name] for name in VALUES},
                        }
                    ),
                    wizard=wizard,
                    step=2 if wizard else None,
                ),
            )
    return _render_form(request, partner, form, wizard=wizard)


def _render_form(
    request: HttpRequest, partner: Partner, form: TermsForm, *, wizard: bool
) -> HttpResponseBase:
    in_force = terms_in_force_row(partner)
    return render_page(
        request,
        "loyalty_web/operator/terms_new.html",
        operator_context(
            request,
            "partners",
            partner=partner,
            form=form,
            in_force=in_force,
            currency=terms_currency(partner),
            wizard=wizard,
            step=2 if wizard else None,
        ),
        status=400 if form.errors else 200,
    )


@operator_page("manage_terms")
@require_http_methods(["GET", "POST"])
def terms_new(request: HttpRequest, slug: str) -> HttpResponseBase:
    return _form_page(request, slug, wizard=False)


@operator_page("onboard_partners")
@require_http_methods(["GET", "POST"])
def onboard_terms(request: HttpRequest, slug: str) -> HttpResponseBase:
    """Wizard step 2: the new partner's first terms (skippable: see the page)."""
    return _form_page(request, slug, wizard=True)


@operator_page("manage_terms")
@require_POST
def terms_confirm(request: HttpRequest, slug: str) -> HttpResponseBase:
    partner = _partner(slug)
    confirm = TermsConfirmForm(request.POST)
    wizard = request.POST.get("wizard") == "True"
    if confirm.is_valid():
        data = confirm.cleaned_data
        try:
            terms, created = services.operator_terms_set(
                partner=partner,
                effective_from=data["effective_from"],
                acting_user=request.user,
                **{name: data[name] for name in VALUES},
            )
        except DomainError as error:
            # back to the form, filled in, with the error next to its field
            bound = TermsForm({name: data[name] for name in VALUES})
            bound.is_valid()
            _show_error(bound, error)
            return _render_form(request, partner, bound, wizard=wizard)
        if created:
            messages.success(
                request,
                _("New terms for %(name)s take effect on %(when)s.")
                % {"name": partner.name,
                   "when": terms.effective_from.astimezone(ZoneInfo(partner.time_zone))
                   .strftime("%Y-%m-%d %H:%M")},
            )  # fmt: skip
        if wizard:
            return HttpResponseRedirect(reverse("operator:onboard_owner", args=[partner.slug]))
        return HttpResponseRedirect(reverse("operator:partner_terms", args=[partner.slug]))
    # hidden fields tampered with or lost: start again from the form
    messages.error(request, _("The preview expired. Enter the terms again."))
    target = "operator:onboard_terms" if wizard else "operator:partner_terms_new"
    return HttpResponseRedirect(reverse(target, args=[partner.slug]))
