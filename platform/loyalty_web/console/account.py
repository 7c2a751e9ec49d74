"""The signed-in person's own account: two-step sign-in on or off.

Open to every role (it is about the person, not the partner); the rules live in
``tenants.staff.two_factor``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from loyalty_web.console.access import staff_page
from loyalty_web.console.views import console_context
from loyalty_web.design import signing_in
from loyalty_web.design.pages import render_page


@staff_page("view_dashboard")
@require_http_methods(["GET", "POST"])
def two_factor_page(request: HttpRequest) -> HttpResponseBase:
    page_url = reverse("console:two_factor")
    shown = signing_in.two_factor_settings(
        request,
        partner_id=request.tenant.pk,  # type: ignore[attr-defined]
        page_url=page_url,
        turned_on_url=page_url,
    )
    if isinstance(shown, HttpResponseRedirect):
        return shown
    return render_page(
        request,
        "loyalty_web/console/two_factor.html",
        console_context(request, "two_factor", **shown),
        status=400 if shown["form"].errors else 200,
    )
