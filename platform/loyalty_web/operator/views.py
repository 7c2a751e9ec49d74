"""Signing in to the operator console and out of it, and the person's two-step
sign-in. The same machinery as the merchant console's (password, lock-out, TOTP
code), with its own session marker: only a session started here opens
``/operator/``, and it opens nothing on a partner's host."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from coalition.operators import services as operator_services
from coalition.operators.selectors import operator_role, two_factor_required
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.console.forms import CodeForm, LoginForm
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page, web_view
from loyalty_web.operator.access import (
    SESSION_OPERATOR,
    operator_context,
    operator_page,
    signed_in_operator,
)
from tenants.staff import two_factor
from tenants.staff.two_factor import two_factor_enabled

HOME = "/operator/partners/"
SESSION_SECOND_STEP = "operator_second_step"
SECOND_STEP_TIME = timedelta(minutes=5)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


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
    next_url = request.POST.get("next") or request.GET.get("next") or HOME
    if not next_url.startswith("/operator/") or not url_has_allowed_host_and_scheme(
        next_url, {request.get_host()}, request.is_secure()
    ):
        next_url = HOME
    if request.user.is_authenticated and signed_in_operator(request) == request.user.pk:
        return HttpResponseRedirect(next_url)
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, _role = operator_services.operator_authenticate(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                ip=_client_ip(request),
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            if two_factor_enabled(user):
                request.session[SESSION_SECOND_STEP] = {
                    "user": user.pk,
                    "next": next_url,
                    "until": (clock.now() + SECOND_STEP_TIME).isoformat(),
                }
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
    pending = request.session.get(SESSION_SECOND_STEP) or {}
    user = get_user_model().objects.filter(pk=int(pending.get("user") or 0)).first()
    if user is None or datetime.fromisoformat(pending["until"]) < clock.now():
        request.session.pop(SESSION_SECOND_STEP, None)
        messages.info(request, _("Signing in took too long. Enter your e-mail and password again."))
        return HttpResponseRedirect(reverse("operator:login"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.staff_second_step(
                user=user, partner_id=None, code=form.cleaned_data["code"], ip=_client_ip(request)
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
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
    logout(request)
    messages.info(request, _("You have signed out."))
    return HttpResponseRedirect(reverse("operator:login"))


@operator_page("view_partners", two_factor_setup=True)
@require_http_methods(["GET", "POST"])
def two_factor_page(request: HttpRequest) -> HttpResponseBase:
    """Turn two-step sign-in on (or off, for roles that may go without it)."""
    user = request.user
    role = getattr(request, "operator_role", None)
    required = two_factor_required(role)
    action = request.POST.get("action", "")
    form = CodeForm(request.POST if action in ("confirm", "disable") else None)
    setup = None
    if action == "start":
        try:
            setup = two_factor.two_factor_start(user=user)
        except DomainError as error:
            messages.info(request, error.message)
            return HttpResponseRedirect(reverse("operator:two_factor"))
    elif action == "disable" and required:
        messages.error(request, _("Your role needs two-step sign-in: it cannot be turned off."))
        return HttpResponseRedirect(reverse("operator:two_factor"))
    elif action in ("confirm", "disable") and form.is_valid():
        try:
            if action == "confirm":
                two_factor.two_factor_confirm(
                    user=user, code=form.cleaned_data["code"], partner_id=None
                )
                messages.success(
                    request,
                    _("Two-step sign-in is on. From now on, enter a code after your password."),
                )
                return HttpResponseRedirect(HOME)
            two_factor.two_factor_disable(
                user=user, code=form.cleaned_data["code"], partner_id=None
            )
            messages.success(request, _("Two-step sign-in is off."))
            return HttpResponseRedirect(reverse("operator:two_factor"))
        except DomainError as error:
            show_domain_error(form, error)
    if action == "confirm":
        setup = two_factor.two_factor_pending(user=user)
    return render_page(
        request,
        "loyalty_web/operator/two_factor.html",
        operator_context(
            request,
            "two_factor",
            enabled=two_factor.two_factor_enabled(user),
            required=required,
            setup=setup,
            # qrcode's own SVG of our URI: paths only, no script or style
            qr=mark_safe(setup.qr_svg()) if setup else None,  # noqa: S308
            secret_groups=" ".join(setup.secret[i : i + 4] for i in range(0, len(setup.secret), 4))
            if setup
            else None,
            form=form,
        ),
        status=400 if form.errors else 200,
    )
