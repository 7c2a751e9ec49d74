"""Pages of the merchant console: signing in, staff and invitations, the audit log.

Each view reads its input, calls one domain service or selector, and renders.
A domain error is shown next to the field it names.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from coalition.audit.selectors import audit_entries
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.console.access import SESSION_PARTNER, nav_for, signed_in_partner, staff_page
from loyalty_web.console.forms import (
    AcceptInvitationForm,
    InviteForm,
    RoleForm,
)
from loyalty_web.design import signing_in
from loyalty_web.design.exports import csv_response
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page, web_view
from loyalty_web.design.pagination import cursor_of, keyset_page, page_links
from tenants.staff import selectors as staff_selectors
from tenants.staff import services as staff_services
from tenants.staff.two_factor import two_factor_enabled

AUDIT_PAGE_SIZE = 50
# Between a right password and the two-step code: who, where, and until when.
SESSION_SECOND_STEP = "staff_second_step"
# Filters of the audit log: action prefixes recorded by the domain services.
AUDIT_KINDS = [
    ("staff.", "Staff and invitations"),
    ("store.", "Stores"),
    ("earn_rules.", "Earn rules"),
    ("campaigns.", "Campaigns"),
    ("rewards.", "Rewards"),
    ("points_payments.", "Point value"),
    ("till.", "Till"),
    ("api_key.", "API keys"),
    ("webhook.", "Webhooks"),
]


def _partner(request: HttpRequest) -> Any:
    return request.tenant  # type: ignore[attr-defined]


def console_context(request: HttpRequest, current: str, **extra: Any) -> dict[str, Any]:
    role = getattr(request, "staff_role", None)
    return {
        "partner": _partner(request),
        "role": role,
        "nav": nav_for(role),
        "current": current,
        **extra,
    }


# --- signing in and out ----------------------------------------------------------------


def _start_staff_session(request: HttpRequest, user: Any) -> None:
    """Sign in on this partner's host only, for the staff session's lifetime."""
    request.session.pop(SESSION_SECOND_STEP, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_PARTNER] = _partner(request).pk
    request.session.set_expiry(settings.LOYALTY_STAFF_SESSION_SECONDS)


@web_view
@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    next_url = signing_in.safe_next_url(request, "/")
    if request.user.is_authenticated and signed_in_partner(request) == partner.pk:
        return HttpResponseRedirect(next_url)
    form = signing_in.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = signing_in.password_sign_in(
            request, form, partial(staff_services.staff_authenticate, partner_id=partner.pk)
        )
        if user is not None:
            if two_factor_enabled(user):
                signing_in.second_step_begin(
                    request, SESSION_SECOND_STEP, user, next_url=next_url, partner=partner.pk
                )
                return HttpResponseRedirect(reverse("console:login_code"))
            _start_staff_session(request, user)
            return HttpResponseRedirect(next_url)
    return render_page(
        request,
        "loyalty_web/console/login.html",
        {"partner": partner, "form": form, "next": next_url},
        status=400 if form.errors else 200,
    )


@web_view
@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    return signing_in.signed_out(request, reverse("console:login"))


@web_view
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: the code from the person's authenticator app."""
    partner = _partner(request)
    # A second step begun at another partner's console does not sign in here.
    user, pending = signing_in.second_step_pending(request, SESSION_SECOND_STEP, partner=partner.pk)
    if user is None:
        return HttpResponseRedirect(reverse("console:login"))
    form = signing_in.CodeForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and signing_in.second_step_check(request, form, user, partner_id=partner.pk)
    ):
        _start_staff_session(request, user)
        return HttpResponseRedirect(pending.get("next") or "/")
    return render_page(
        request,
        "loyalty_web/console/login_code.html",
        {"partner": partner, "form": form},
        status=400 if form.errors else 200,
    )


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "loyalty_web/console/password_reset.html"
    email_template_name = "loyalty_web/console/password_reset_email.txt"
    subject_template_name = "loyalty_web/console/password_reset_subject.txt"
    success_url = "/password-reset/sent/"
    extra_context = {"page_title": "Reset your password"}


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "loyalty_web/console/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "loyalty_web/console/password_reset_confirm.html"
    success_url = "/password-reset/complete/"


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "loyalty_web/console/password_reset_complete.html"


# --- invitations -------------------------------------------------------------------------


@web_view
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    partner = _partner(request)
    try:
        invitation = staff_services.staff_invitation_find(token=token)
        if invitation.partner_id != partner.pk:
            raise staff_services.InvitationInvalid(
                "This invitation is for another partner's console."
            )
    except DomainError as error:
        return render(
            request,
            "loyalty_web/console/invitation_invalid.html",
            {"partner": partner, "message": error.message},
            status=404,
        )
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = staff_services.staff_invitation_accept(
                token=token, password=form.cleaned_data["password"]
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            _start_staff_session(request, membership.user)
            messages.success(request, _("Welcome. You can now use the console."))
            return HttpResponseRedirect("/")
    return render_page(
        request,
        "loyalty_web/console/invitation_accept.html",
        {"partner": partner, "invitation": invitation, "form": form},
        status=400 if form.errors else 200,
    )


# --- staff ------------------------------------------------------------------------------------


def _send_invitation(request: HttpRequest, email: str, token: str) -> None:
    partner = _partner(request)
    link = request.build_absolute_uri(reverse("console:invitation", args=[token]))
    send_mail(
        subject=_("You are invited to the %(partner)s console") % {"partner": partner.name},
        message=_(
            "You have been invited to work in the %(partner)s merchant console.\n\n"
            "Accept the invitation and choose a password here (the link works once, "
            "for 7 days):\n%(link)s\n"
        )
        % {"partner": partner.name, "link": link},
        from_email=None,
        recipient_list=[email],
    )


@staff_page("manage_staff")
@require_http_methods(["GET", "POST"])
def staff_list(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = staff_services.staff_invite(
                partner_id=partner.pk,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                acting_user=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            _send_invitation(request, invitation.email, token)
            messages.success(
                request,
                _("Invitation sent to %(email)s as %(role)s.")
                % {"email": invitation.email, "role": invitation.get_role_display()},
            )
            return HttpResponseRedirect(reverse("console:staff"))
    context = console_context(
        request,
        "staff",
        form=form,
        members=staff_selectors.staff_of_partner(partner_id=partner.pk),
        invitations=staff_selectors.invitations_pending(partner_id=partner.pk, now=clock.now()),
        role_form=RoleForm(),
    )
    return render_page(
        request, "loyalty_web/console/staff.html", context, status=400 if form.errors else 200
    )


@staff_page("manage_staff")
@require_POST
def staff_role(request: HttpRequest, user_id: int) -> HttpResponse:
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            staff_services.staff_role_change(
                partner_id=_partner(request).pk,
                user_id=user_id,
                role=form.cleaned_data["role"],
                acting_user=request.user,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Role changed."))
    else:
        messages.error(request, _("Choose a role: owner, manager, cashier or analyst"))
    return HttpResponseRedirect(reverse("console:staff"))


@staff_page("manage_staff")
@require_http_methods(["GET", "POST"])
def staff_remove(request: HttpRequest, user_id: int) -> HttpResponse:
    partner = _partner(request)
    membership = (
        staff_selectors.staff_of_partner(partner_id=partner.pk).filter(user_id=user_id).first()
    )
    if membership is None:
        messages.error(request, _("That person does not work here any more."))
        return HttpResponseRedirect(reverse("console:staff"))
    if request.method == "POST":
        try:
            staff_services.staff_remove(
                partner_id=partner.pk, user_id=user_id, acting_user=request.user
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("%(email)s no longer has access.") % {"email": membership.user.email}
            )
        return HttpResponseRedirect(reverse("console:staff"))
    return render_page(
        request,
        "loyalty_web/console/staff_remove.html",
        console_context(request, "staff", membership=membership),
    )


@staff_page("manage_staff")
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    staff_services.staff_invitation_revoke(
        partner_id=_partner(request).pk, invitation_id=invitation_id, acting_user=request.user
    )
    messages.success(request, _("Invitation withdrawn."))
    return HttpResponseRedirect(reverse("console:staff"))


# --- audit log ----------------------------------------------------------------------------------


@staff_page("read_audit")
def audit_log(request: HttpRequest) -> HttpResponseBase:
    partner = _partner(request)
    action = request.GET.get("action", "")[:60]
    entries = audit_entries(
        partner_id=partner.pk, action_prefix=action, before_id=cursor_of(request.GET)
    )
    if request.GET.get("format") == "csv":
        return csv_response(
            f"audit-{partner.slug}.csv",
            ["at", "who", "action", "object", "before", "after"],
            (
                [e.at.isoformat(), e.actor_label, e.action, f"{e.object_type} {e.object_id}",
                 e.before, e.after]
                for e in entries.iterator()
            ),
        )  # fmt: skip
    page = keyset_page(entries, size=AUDIT_PAGE_SIZE, first_page=cursor_of(request.GET) is None)
    return render_page(
        request,
        "loyalty_web/console/audit.html",
        console_context(
            request,
            "audit",
            # The audit table is both consoles'; the operator's rows also name the partner.
            rows=[{"entry": e} for e in page.items],
            action=action,
            **page_links(page, request.GET),
            action_choices=AUDIT_KINDS,
        ),
        partial="loyalty_web/console/audit_rows.html",
    )
