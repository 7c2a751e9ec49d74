"""Who may open a console page: a user signed in on THIS partner's host, whose role
at this partner has the page's capability (the rule lives in ``tenants.staff``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render

from loyalty_web.design.pages import secure_headers
from tenants.staff.selectors import staff_can, staff_role

SESSION_PARTNER = "staff_partner_id"


def signed_in_partner(request: HttpRequest) -> int | None:
    partner_id = request.session.get(SESSION_PARTNER)
    return int(partner_id) if partner_id is not None else None


def staff_page(
    capability: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            partner = request.tenant  # type: ignore[attr-defined]
            user = request.user
            if not user.is_authenticated or signed_in_partner(request) != partner.pk:
                login = "/login/?" + urlencode({"next": request.get_full_path()})
                return secure_headers(HttpResponseRedirect(login))
            role = staff_role(user=user, partner_id=partner.pk)
            if not staff_can(role, capability):
                return secure_headers(
                    render(
                        request,
                        "loyalty_web/console/denied.html",
                        {"partner": partner, "role": role, "nav": nav_for(role)},
                        status=403,
                    )
                )
            request.staff_role = role  # type: ignore[attr-defined]
            return secure_headers(view(request, *args, **kwargs))

        return wrapped

    return decorate


def partner_of(request: HttpRequest) -> Any:
    """The partner whose host this request came to."""
    return request.tenant  # type: ignore[attr-defined]


def may(request: HttpRequest, capability: str) -> bool:
    """Whether the signed-in staff member's role (set by ``staff_page``) has this capability."""
    return staff_can(getattr(request, "staff_role", None), capability)


def denied(request: HttpRequest) -> HttpResponse:
    """The 403 page for staff who may open a page but not do what they asked on it."""
    role = getattr(request, "staff_role", None)
    return render(
        request,
        "loyalty_web/console/denied.html",
        {"partner": partner_of(request), "role": role, "nav": nav_for(role)},
        status=403,
    )


NAV = (
    ("dashboard", "/", "Dashboard", "view_dashboard"),
    ("members", "/members/", "Members", "look_up_members"),
    ("till", "/till/", "Till", "serve_till"),
    ("adjustments", "/adjustments/", "Adjustments", "read_reports"),
    # programme
    ("stores", "/stores/", "Stores", "view_dashboard"),
    ("rules", "/earn-rules/", "Earn rules", "view_dashboard"),
    ("campaigns", "/campaigns/", "Campaigns", "view_dashboard"),
    ("rewards", "/rewards/", "Rewards", "view_dashboard"),
    ("point_value", "/point-value/", "Point value", "view_dashboard"),
    ("settlement", "/settlement/", "Settlement", "read_reports"),
    ("staff", "/staff/", "Staff", "manage_staff"),
    ("integration", "/integration/", "Integration", "manage_integration"),
    ("audit", "/audit/", "Audit log", "read_audit"),
)


def nav_for(role: str | None) -> list[dict[str, str]]:
    return [
        {"key": key, "url": url, "label": label}
        for key, url, label, capability in NAV
        if staff_can(role, capability)
    ]
