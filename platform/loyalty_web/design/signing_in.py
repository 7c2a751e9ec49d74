"""Signing in. For every sign-in page: where to go after (a ``next`` address on this
host) and who asks (the client's address). For the two staff consoles (the
merchant console, the operator console): the sign-in forms, the password step, the
two-step code pending in the session between the steps, and the person's two-step
sign-in settings (start, confirm, turn off).

Each console keeps its own session markers, its scope (a partner, or the coalition)
and its pages; the rules live in the domain's authenticate services and in
``tenants.staff.two_factor``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.design.forms import show_domain_error
from tenants.staff import two_factor

# Between a right password and the two-step code.
SECOND_STEP_TIME = timedelta(minutes=5)


class LoginForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("E-mail address"),
        widget=forms.EmailInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
        error_messages={"required": gettext_lazy("Enter your e-mail address")},
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": gettext_lazy("Enter your password")},
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
        error_messages={"required": gettext_lazy("Enter the 6-digit code your app shows")},
    )


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def safe_next_url(request: HttpRequest, default: str) -> str:
    """Where to go after signing in: the ``next`` asked for, if it is on this host."""
    next_url = request.POST.get("next") or request.GET.get("next") or default
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return default
    return next_url


def password_sign_in(
    request: HttpRequest, form: forms.Form, authenticate: Callable[..., tuple[Any, Any]]
) -> Any:
    """The user whose e-mail and password the valid ``form`` holds, or None with the
    refusal (a wrong password, a lock-out) shown on the form."""
    try:
        user, _role = authenticate(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            ip=client_ip(request),
        )
    except DomainError as error:
        show_domain_error(form, error)
        return None
    return user


def signed_out(request: HttpRequest, sign_in_url: str) -> HttpResponseRedirect:
    logout(request)
    messages.info(request, _("You have signed out."))
    return HttpResponseRedirect(sign_in_url)


def second_step_begin(
    request: HttpRequest, session_key: str, user: Any, *, next_url: str, **scope: Any
) -> None:
    """The password was right; the session starts after the code. Keep who, where
    (``scope``: the partner, for the merchant console), where to go next and until when."""
    request.session[session_key] = {
        "user": user.pk,
        **scope,
        "next": next_url,
        "until": (clock.now() + SECOND_STEP_TIME).isoformat(),
    }


def second_step_pending(
    request: HttpRequest, session_key: str, **scope: Any
) -> tuple[Any, dict[str, Any]]:
    """The user waiting to enter their code and the pending step. None, and a note
    to start again, when there is none, it ran out, or it began in another scope."""
    pending = request.session.get(session_key) or {}
    user = get_user_model().objects.filter(pk=int(pending.get("user") or 0)).first()
    if (
        user is None
        or any(pending.get(name) != value for name, value in scope.items())
        or datetime.fromisoformat(pending["until"]) < clock.now()
    ):
        request.session.pop(session_key, None)
        messages.info(request, _("Signing in took too long. Enter your e-mail and password again."))
        return None, {}
    return user, pending


def second_step_check(
    request: HttpRequest, form: forms.Form, user: Any, *, partner_id: int | None
) -> bool:
    """Whether the code the valid ``form`` holds signs ``user`` in; a refusal is shown
    on the form."""
    try:
        two_factor.staff_second_step(
            user=user, partner_id=partner_id, code=form.cleaned_data["code"], ip=client_ip(request)
        )
    except DomainError as error:
        show_domain_error(form, error)
        return False
    return True


def two_factor_settings(
    request: HttpRequest,
    *,
    partner_id: int | None,
    page_url: str,
    turned_on_url: str,
    may_turn_off: bool = True,
) -> HttpResponseRedirect | dict[str, Any]:
    """The person's two-step sign-in page: run the action it posted (start, confirm,
    disable) and redirect when it is done, or answer what the page shows."""
    user = request.user
    action = request.POST.get("action", "")
    form = CodeForm(request.POST if action in ("confirm", "disable") else None)
    setup = None
    if action == "start":
        try:
            setup = two_factor.two_factor_start(user=user)
        except DomainError as error:
            messages.info(request, error.message)
            return HttpResponseRedirect(page_url)
    elif action == "disable" and not may_turn_off:
        messages.error(request, _("Your role needs two-step sign-in: it cannot be turned off."))
        return HttpResponseRedirect(page_url)
    elif action in ("confirm", "disable") and form.is_valid():
        try:
            if action == "confirm":
                two_factor.two_factor_confirm(
                    user=user, code=form.cleaned_data["code"], partner_id=partner_id
                )
                messages.success(
                    request,
                    _("Two-step sign-in is on. From now on, enter a code after your password."),
                )
                return HttpResponseRedirect(turned_on_url)
            two_factor.two_factor_disable(
                user=user, code=form.cleaned_data["code"], partner_id=partner_id
            )
            messages.success(request, _("Two-step sign-in is off."))
            return HttpResponseRedirect(page_url)
        except DomainError as error:
            show_domain_error(form, error)
    if action == "confirm":  # show the same secret again next to the error
        setup = two_factor.two_factor_pending(user=user)
    return {
        "enabled": two_factor.two_factor_enabled(user),
        "setup": setup,
        # qrcode's own SVG of our URI: paths only, no script or style
        "qr": mark_safe(setup.qr_svg()) if setup else None,  # noqa: S308
        "secret_groups": _groups(setup.secret) if setup else None,
        "form": form,
    }


def _groups(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
