"""The signed-in person's own account: two-step sign-in on or off.

Open to every role (it is about the person, not the partner); the rules live in
``tenants.staff.two_factor``.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from loyalty_kernel.errors import DomainError
from loyalty_web.console.access import staff_page
from loyalty_web.console.forms import CodeForm
from loyalty_web.console.views import console_context
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from tenants.staff import two_factor


@staff_page("view_dashboard")
@require_http_methods(["GET", "POST"])
def two_factor_page(request: HttpRequest) -> HttpResponseBase:
    user, partner = request.user, request.tenant  # type: ignore[attr-defined]
    action = request.POST.get("action", "")
    form = CodeForm(request.POST if action in ("confirm", "disable") else None)
    setup = None
    if action == "start":
        try:
            setup = two_factor.two_factor_start(user=user)
        except DomainError as error:
            messages.info(request, error.message)
            return HttpResponseRedirect(reverse("console:two_factor"))
    elif action in ("confirm", "disable") and form.is_valid():
        try:
            if action == "confirm":
                two_factor.two_factor_confirm(
                    user=user, code=form.cleaned_data["code"], partner_id=partner.pk
                )
                messages.success(
                    request,
                    _("Two-step sign-in is on. From now on, enter a code after your password."),
                )
            else:
                two_factor.two_factor_disable(
                    user=user, code=form.cleaned_data["code"], partner_id=partner.pk
                )
                messages.success(request, _("Two-step sign-in is off."))
            return HttpResponseRedirect(reverse("console:two_factor"))
        except DomainError as error:
            show_domain_error(form, error)
    if action == "confirm":  # show the same secret again next to the error
        setup = two_factor.two_factor_pending(user=user)
    return render_page(
        request,
        "loyalty_web/console/two_factor.html",
        console_context(
            request,
            "two_factor",
            enabled=two_factor.two_factor_enabled(user),
            setup=setup,
            # qrcode's own SVG of our URI: paths only, no script or style
            qr=mark_safe(setup.qr_svg()) if setup else None,  # noqa: S308
            secret_groups=_groups(setup.secret) if setup else None,
            form=form,
        ),
        status=400 if form.errors else 200,
    )


def _groups(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
