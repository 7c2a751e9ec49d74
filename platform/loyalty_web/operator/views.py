"""Signing in to the operator console and out of it, and the person's two-step
sign-in. The same machinery as the merchant console's (password, lock-out, TOTP
code), with its own session marker: only a session started here opens
``/operator/``, and it opens nothing on a partner's host."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from coalition.operators import services as operator_services
from coalition.operators.selectors import operator_role, two_factor_required
from loyalty_web.design import signing_in
from loyalty_web.design.pages import render_page, web_view
from loyalty_web.operator.access import (
    SESSION_OPERATOR,
    operator_context,
    operator_page,
    signed_in_operator,
)
from tenants.staff.two_factor import two_factor_enabled

HOME = "/operator/partners/"
SESSION_SECOND_STEP = "operator_second_step"


def start_operator_session(request: HttpRequest, user: object) -> None:
    request.session.pop(SESSION_SECOND_STEP, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # type: ignore[arg-type]
    request.session[SESSION_OPERATOR] = user.pk  # type: ignore[attr-defined]
    request.session.set_expiry(settings.LOYALTY_STAFF_SESSION_SECONDS)


def after_sign_in(user: object, next_url: str) -> str:
    """Admins and finance without two-step sign-in set it up first."""
    if two_factor_required(operator_role(user=user)) and not two_factor_enabled(user):
        return reverse("operator:two_factor")
    return next_url


@web_view
def home(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(HOME)


@web_view
@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    next_url = signing_in.safe_next_url(request, HOME)
    if not next_url.startswith("/operator/"):
        next_url = HOME
    if request.user.is_authenticated and signed_in_operator(request) == request.user.pk:
        return HttpResponseRedirect(next_url)
    form = signing_in.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = signing_in.password_sign_in(request, form, operator_services.operator_authenticate)
        if user is not None:
            if two_factor_enabled(user):
                signing_in.second_step_begin(request, SESSION_SECOND_STEP, user, next_url=next_url)
                return HttpResponseRedirect(reverse("operator:login_code"))
            start_operator_session(request, user)
            return HttpResponseRedirect(after_sign_in(user, next_url))
    return render_page(
        request,
        "loyalty_web/operator/login.html",
        {"form": form, "next": next_url},
        status=400 if form.errors else 200,
    )


@web_view
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step: the code from the person's authenticator app."""
    user, pending = signing_in.second_step_pending(request, SESSION_SECOND_STEP)
    if user is None:
        return HttpResponseRedirect(reverse("operator:login"))
    form = signing_in.CodeForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and signing_in.second_step_check(request, form, user, partner_id=None)
    ):
        start_operator_session(request, user)
        return HttpResponseRedirect(pending.get("next") or HOME)
    return render_page(
        request,
        "loyalty_web/operator/login_code.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@web_view
@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    return signing_in.signed_out(request, reverse("operator:login"))


@operator_page("view_partners", two_factor_setup=True)
@require_http_methods(["GET", "POST"])
def two_factor_page(request: HttpRequest) -> HttpResponseBase:
    """Turn two-step sign-in on (or off, for roles that may go without it)."""
    required = two_factor_required(getattr(request, "operator_role", None))
    shown = signing_in.two_factor_settings(
        request,
        partner_id=None,
        page_url=reverse("operator:two_factor"),
        turned_on_url=HOME,
        may_turn_off=not required,
    )
    if isinstance(shown, HttpResponseRedirect):
        return shown
    return render_page(
        request,
        "loyalty_web/operator/two_factor.html",
        operator_context(request, "two_factor", required=required, **shown),
        status=400 if shown["form"].errors else 200,
    )
