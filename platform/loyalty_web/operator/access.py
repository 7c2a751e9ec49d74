"""Who may open an operator page: a user signed in on the operator console (the
session says so: a merchant console session on a partner host does not), whose
operator role has the page's capability (the rule lives in ``coalition.operators``).
Admins and finance are sent to set up two-step sign-in before any other page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext_lazy

from coalition.operators.models import OperatorRole
from coalition.operators.selectors import operator_can, operator_role, two_factor_required
from loyalty_web.design.pages import secure_headers
from tenants.staff.two_factor import two_factor_enabled

SESSION_OPERATOR = "operator_user"
LOGIN_URL = "/operator/login/"
TWO_FACTOR_URL = "/operator/account/two-step/"


def signed_in_operator(request: HttpRequest) -> int | None:
    user_id = request.session.get(SESSION_OPERATOR)
    return int(user_id) if user_id is not None else None


def _to_login(request: HttpRequest) -> HttpResponseBase:
    return secure_headers(
        HttpResponseRedirect(LOGIN_URL + "?" + urlencode({"next": request.get_full_path()}))
    )


def operator_page(
    capability: str, *, two_factor_setup: bool = False
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """``two_factor_setup`` marks the one page open before two-step sign-in is on."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated or signed_in_operator(request) != user.pk:
                return _to_login(request)
            role = operator_role(user=user)
            if role is None:  # no longer operator staff: the session is worth nothing
                return _to_login(request)
            if not two_factor_setup and two_factor_required(role) and not two_factor_enabled(user):
                return secure_headers(HttpResponseRedirect(TWO_FACTOR_URL))
            request.operator_role = role  # type: ignore[attr-defined]
            if not operator_can(role, capability):
                return secure_headers(denied(request))
            return secure_headers(view(request, *args, **kwargs))

        return wrapped

    return decorate


def may(request: HttpRequest, capability: str) -> bool:
    """Whether the signed-in operator's role (set by ``operator_page``) has this capability."""
    return operator_can(getattr(request, "operator_role", None), capability)


def denied(request: HttpRequest) -> HttpResponse:
    """The 403 page for operator staff whose role lacks what they asked for."""
    return render(
        request, "loyalty_web/operator/denied.html", operator_context(request, ""), status=403
    )


ROLE_WORDS = {
    OperatorRole.ADMIN: gettext_lazy("Admin"),
    OperatorRole.FINANCE: gettext_lazy("Finance"),
    OperatorRole.SUPPORT: gettext_lazy("Support"),
    OperatorRole.READ_ONLY: gettext_lazy("Read-only"),
}

# The operator console's areas; later slices (settlement, programme, reports,
# member support) add theirs here with the capability that shows them.
NAV = (
    ("partners", "/operator/partners/", "Partners", "view_partners"),
    ("audit", "/operator/audit/", "Audit log", "read_audit"),
    ("staff", "/operator/staff/", "Operator staff", "manage_operators"),
    ("members", "/operator/members/", "Members", "view_members"),
    ("goodwill", "/operator/members/goodwill/", "Goodwill", "view_goodwill"),
    ("settlement", "/operator/settlement/", "Settlement", "read_reports"),
    ("payouts", "/operator/settlement/payouts/", "Payouts", "read_reports"),
    ("programme", "/operator/programme/", "Programme", "view_programme"),
    ("reports", "/operator/reports/", "Reports", "read_reports"),
)


def nav_for(role: str | None) -> list[dict[str, str]]:
    return [
        {"key": key, "url": url, "label": label}
        for key, url, label, capability in NAV
        if operator_can(role, capability)
    ]


def operator_context(request: HttpRequest, current: str, **extra: Any) -> dict[str, Any]:
    role = getattr(request, "operator_role", None)
    return {
        "role": role,
        "role_label": ROLE_WORDS.get(role, "") if role else "",
        "nav": nav_for(role),
        "current": current,
        **extra,
    }
