"""The till of the merchant console: a cashier checks a voucher by its code and uses
it, and takes points as payment (authorise after seeing what it takes, then
capture all or part, or void).

Owners, managers and cashiers serve the till ("serve_till"). Each view reads its
input, calls the rewards services and selectors the GraphQL ``voucher``,
``consumeVoucher`` and points-payment mutations call, and renders; a domain error
is shown in plain words next to the field it names. Every action is audited by
the service (``till.*``) with the member of staff as the actor.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from coalition.members import selectors as member_selectors
from coalition.members.errors import UnknownMember
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.money import format_money, money
from loyalty_web.console.access import denied, may, partner_of, staff_page
from loyalty_web.console.till_forms import (
    CaptureForm,
    PaymentConfirmForm,
    PaymentForm,
    VoidForm,
    VoucherLookupForm,
    VoucherUseForm,
)
from loyalty_web.console.views import console_context
from loyalty_web.design.exports import csv_response
from loyalty_web.design.pages import render_page
from tenants.rewards import selectors as till
from tenants.rewards import services as rewards

SERVE = "serve_till"

VOUCHER_STATES = {
    till.VOUCHER_ISSUED: (gettext_lazy("Ready to use"), "tag--ok"),
    till.VOUCHER_USED: (gettext_lazy("Already used"), "tag--bad"),
    till.VOUCHER_CANCELLED: (gettext_lazy("Cancelled"), "tag--bad"),
    till.VOUCHER_EXPIRED: (gettext_lazy("Expired"), "tag--warn"),
}

# The domain's typed errors in the words a cashier needs (the services' own
# messages are written for developers).
ERROR_WORDS = {
    "unknown_voucher": gettext_lazy(
        "This is not a voucher of this partner. Check the code with the member: a voucher "
        "can only be used at the partner whose reward it is."
    ),
    "voucher_already_used": gettext_lazy("This voucher has already been used."),
    "voucher_expired": gettext_lazy("This voucher has expired and cannot be used."),
    "voucher_cancelled": gettext_lazy(
        "This voucher was cancelled and its points went back to the member."
    ),
    "unknown_member": gettext_lazy("No member has this member number or card number."),
    "member_not_active": gettext_lazy(
        "This member's account is suspended: they cannot pay with points."
    ),
    "insufficient_points": gettext_lazy("The member does not have enough points for this amount."),
    "points_below_minimum": gettext_lazy("This amount is too small to pay with points."),
    "points_payments_not_configured": gettext_lazy(
        "Paying with points is not set up yet: an owner or manager sets the value of a point first."
    ),
    "partner_not_active": gettext_lazy(
        "This partner is suspended in the coalition: the till cannot take points now."
    ),
    "hold_expired": gettext_lazy(
        "The points were held for too long and went back to the member. "
        "Authorise the payment again."
    ),
    "hold_already_resolved": gettext_lazy("This payment was already captured or voided."),
    "unknown_payment": gettext_lazy("There is no such payment at this partner."),
    "capture_exceeds_hold": gettext_lazy("That is more than this payment holds."),
    "idempotency_key_reused": gettext_lazy(
        "This form was already sent with other details. Start again from the till."
    ),
}

# Which field of the till's forms a domain error's field lands on.
FIELD_OF = {"code": "code", "member": "member", "points": "amount", "amount": "amount"}


def _words(error: DomainError) -> str:
    return str(ERROR_WORDS.get(error.code, error.message))


def _show(form: forms.Form, error: DomainError) -> None:
    name = FIELD_OF.get(error.field or "")
    form.add_error(name if name in form.fields else None, _words(error))


def _key(request: HttpRequest, form: forms.Form) -> IdempotencyKey:
    return IdempotencyKey(
        f"console:{partner_of(request).pk}:till", form.cleaned_data["idempotency_key"]
    )


def _major(amount: int, currency: str) -> str:
    return money(amount, currency)["amount"]


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    partner = partner_of(request)
    return console_context(request, "till", zone=partner.time_zone, **extra)


# --- the till: look a voucher up, start a payment, the payments waiting -----------------


@staff_page(SERVE)
@require_GET
def till_home(request: HttpRequest) -> HttpResponseBase:
    partner = partner_of(request)
    now = clock.now()
    rows = till.open_payments(now=now)
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)  # cashiers serve the till but download nothing
        zone = ZoneInfo(partner.time_zone)
        return csv_response(
            f"open-points-payments-{partner.slug}.csv",
            ["payment_id", "member_number", "amount", "currency", "points", "value_per_point",
             "authorised_at", "expires_at", "reference"],
            (
                [row.payment.pk, row.member_number,
                 _major(row.payment.amount, row.payment.currency), row.payment.currency,
                 row.payment.points, f"{row.payment.value_per_point.normalize():f}",
                 row.payment.created_at.astimezone(zone).isoformat(),
                 row.expires_at.astimezone(zone).isoformat(), row.payment.reference]
                for row in rows
            ),
        )  # fmt: skip
    currency = till.payment_currency()
    return render_page(
        request,
        "loyalty_web/console/till.html",
        _context(
            request,
            voucher_form=VoucherLookupForm(),
            payment_form=PaymentForm(currency=currency),
            rows=rows,
            can_export=may(request, "export"),
        ),
    )


# --- vouchers ----------------------------------------------------------------------------


def _voucher_view(found: till.TillVoucher) -> dict[str, Any]:
    label, css = VOUCHER_STATES[found.state]
    voucher = found.voucher
    return {
        "code": voucher.code,
        "reward": voucher.reward.name,
        "points": voucher.points,
        "state": found.state,
        "state_label": str(label),
        "state_css": css,
        "usable": found.usable,
        "expires_at": voucher.expires_at,
        "consumed_at": voucher.consumed_at,
        "cancelled_at": voucher.cancelled_at,
        "member_number": found.member_number,
        "member_email": found.member_email,
    }


@staff_page(SERVE)
@require_http_methods(["GET", "POST"])
def voucher(request: HttpRequest) -> HttpResponse:
    """GET ?code=: what the code names and whether it can be used; POST: use it.
    The use form carries a key: a second press of the button uses nothing more and
    says the same."""
    problem = ""
    if request.method == "POST":
        use_form = VoucherUseForm(request.POST)
        if use_form.is_valid():
            try:
                used = rewards.voucher_consume(
                    code=use_form.cleaned_data["code"],
                    idempotency=_key(request, use_form),
                    actor=request.user,
                )
            except DomainError as error:
                problem = _words(error)
            else:
                messages.success(
                    request,
                    _("Voucher used: give the member “%(reward)s”.") % {"reward": used.reward.name},
                )
                return HttpResponseRedirect(reverse("console:till"))
        else:
            problem = _("Look the voucher up again and use it from its page.")
        lookup = VoucherLookupForm({"code": request.POST.get("code", "")})
    else:
        lookup = VoucherLookupForm(request.GET if "code" in request.GET else None)
    found = None
    if lookup.is_bound and lookup.is_valid():
        found = till.voucher_at_till(lookup.cleaned_data["code"], now=clock.now())
        if found is None:
            problem = problem or str(ERROR_WORDS["unknown_voucher"])
    if problem:
        lookup.add_error("code" if "code" in lookup.fields else None, problem)
    return render_page(
        request,
        "loyalty_web/console/till_voucher.html",
        _context(
            request,
            form=lookup,
            found=_voucher_view(found) if found else None,
            use_form=(
                VoucherUseForm(initial={"code": found.voucher.code})
                if found is not None and found.usable
                else None
            ),
        ),
        status=400 if lookup.errors else 200,
    )


# --- paying with points --------------------------------------------------------------------


def _payment_form(request: HttpRequest, currency: str) -> PaymentForm:
    bound = "member" in request.GET or "amount" in request.GET
    return PaymentForm(request.GET if bound else None, currency=currency)


@staff_page(SERVE)
@require_http_methods(["GET", "POST"])
def payment_new(request: HttpRequest) -> HttpResponse:
    """GET ?member=&amount=: the check (value of a point, the points it takes, the
    member's balance before and after) with the button that authorises; POST:
    authorise (once per key) and go back to the till."""
    currency = till.payment_currency()
    quote = None
    if request.method == "POST":
        confirm = PaymentConfirmForm(request.POST)
        form = PaymentForm(
            {
                "member": request.POST.get("member", ""),
                "amount": _amount_text(request.POST.get("amount", ""), currency),
            },
            currency=currency,
        )
        form.is_valid()
        if confirm.is_valid():
            data = confirm.cleaned_data
            member = member_selectors.member_by_number(data["member"])
            try:
                if member is None:
                    raise UnknownMember("no such member")
                view = rewards.points_payment_authorize(
                    member_id=member.pk,
                    amount=data["amount"],
                    reference=f"console till, staff {request.user.pk}",
                    idempotency=_key(request, confirm),
                    actor=request.user,
                )
            except DomainError as error:
                _show(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Payment authorised: %(points)s points held for %(amount)s. "
                        "Capture it below when the sale is done."
                    )
                    % {
                        "points": f"{view.points:,}",
                        "amount": format_money(view.amount, view.currency),
                    },
                )
                return HttpResponseRedirect(reverse("console:till"))
        else:
            form.add_error(None, _("Start the payment again from the till."))
    else:
        form = _payment_form(request, currency)
        if form.is_bound and form.is_valid():
            quote = _quote(form)
    confirm_form = None
    if quote is not None:
        confirm_form = PaymentConfirmForm(
            initial={"member": quote.member.member_number, "amount": quote.amount}
        )
    return render_page(
        request,
        "loyalty_web/console/till_payment.html",
        _context(
            request,
            form=form,
            currency=currency,
            quote=quote,
            member_email=member_selectors.masked_email(quote.member) if quote else "",
            value_example=rewards.amount_for_points(100, quote.value_per_point) if quote else 0,
            confirm_form=confirm_form,
        ),
        status=400 if form.errors else 200,
    )


def _amount_text(minor: str, currency: str) -> str:
    """A hidden amount in minor units back in the words of the form (major units)."""
    try:
        return _major(int(minor), currency)
    except ValueError:
        return ""


def _quote(form: PaymentForm) -> till.PaymentQuote | None:
    """The check before authorising, or None with the reason next to its field."""
    member = member_selectors.member_find(form.cleaned_data["member"])
    if member is None:
        form.add_error("member", str(ERROR_WORDS["unknown_member"]))
        return None
    try:
        quote = till.payment_quote(member=member, amount=form.cleaned_data["amount"])
    except DomainError as error:
        _show(form, error)
        return None
    if not quote.enough:
        form.add_error(
            "amount",
            _("The member has %(balance)s points and this amount takes %(points)s.")
            % {"balance": f"{quote.balance:,}", "points": f"{quote.points:,}"},
        )
        return None
    return quote


def _open_payment(payment_id: int) -> till.OpenPayment:
    row = till.open_payment(payment_id, now=clock.now())
    if row is None:
        raise Http404
    return row


def _gone(request: HttpRequest, error: DomainError) -> HttpResponse:
    """The payment was captured, voided or expired meanwhile: say so at the till."""
    messages.error(request, _words(error))
    return HttpResponseRedirect(reverse("console:till"))


@staff_page(SERVE)
@require_http_methods(["GET", "POST"])
def payment_capture(request: HttpRequest, payment_id: int) -> HttpResponse:
    """Take all of a payment's points, or the part a smaller amount needs (at the
    value per point it was authorised at); the rest goes back to the member."""
    currency = till.payment_currency()
    if request.method == "POST":
        form = CaptureForm(request.POST, currency=currency)
        if form.is_valid():
            try:
                view = rewards.points_payment_capture(
                    payment_id=payment_id,
                    amount=form.cleaned_data["amount"],
                    idempotency=_key(request, form),
                    actor=request.user,
                )
            except DomainError as error:
                row = till.open_payment(payment_id, now=clock.now())
                if row is None:
                    return _gone(request, error)
                if error.code == "invalid_amount":
                    form.add_error(
                        "amount",
                        _("Enter an amount of no more than %(amount)s, the amount authorised.")
                        % {"amount": format_money(row.payment.amount, row.payment.currency)},
                    )
                else:
                    _show(form, error)
            else:
                messages.success(
                    request,
                    _("Payment captured: %(points)s points for %(amount)s.")
                    % {
                        "points": f"{view.points:,}",
                        "amount": format_money(view.amount, view.currency),
                    },
                )
                return HttpResponseRedirect(reverse("console:till"))
        row = _open_payment(payment_id)
    else:
        row = _open_payment(payment_id)
        form = CaptureForm(
            initial={"amount": _major(row.payment.amount, row.payment.currency)},
            currency=row.payment.currency,
        )
    return render_page(
        request,
        "loyalty_web/console/till_capture.html",
        _context(request, form=form, row=row),
        status=400 if form.errors else 200,
    )


@staff_page(SERVE)
@require_http_methods(["GET", "POST"])
def payment_void(request: HttpRequest, payment_id: int) -> HttpResponse:
    """GET: the confirmation (the points go back to the member); POST: void."""
    if request.method == "POST":
        form = VoidForm(request.POST)
        if form.is_valid():
            try:
                view = rewards.points_payment_void(
                    payment_id=payment_id, idempotency=_key(request, form), actor=request.user
                )
            except DomainError as error:
                return _gone(request, error)
            messages.success(
                request,
                _("Payment voided: %(points)s points went back to the member.")
                % {"points": f"{view.points:,}"},
            )
            return HttpResponseRedirect(reverse("console:till"))
    row = _open_payment(payment_id)
    return render_page(
        request,
        "loyalty_web/console/till_void.html",
        _context(request, row=row, form=VoidForm()),
    )
