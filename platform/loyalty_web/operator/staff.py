"""Operator staff pages: who works for the coalition operator, in which role and
whether their two-step sign-in is on (with a CSV); inviting someone by e-mail in a
role, withdrawing an invitation, changing a role and removing access (behind a
confirmation). The invitee accepts on the public host at
``/operator/invitation/<token>/``, chooses a password and is signed in (admins and
finance are then asked to set up two-step sign-in).

Each view reads its input, calls one operator service or selector, and renders;
the rules (the last admin, not oneself, one invitation per form) live in
``coalition.operators.services``.
"""

from __future__ import annotations

from uuid import uuid4

from django.contrib import messages
from django.core.mail import send_mail
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from coalition.operators import selectors, services
from coalition.operators.models import OperatorRole
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.console.forms import AcceptInvitationForm
from loyalty_web.design.exports import csv_response
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page, web_view
from loyalty_web.operator.access import (
    ROLE_WORDS,
    denied,
    may,
    operator_context,
    operator_page,
)
from loyalty_web.operator.forms import OperatorInviteForm, OperatorRoleForm
from loyalty_web.operator.views import after_sign_in, start_operator_session


def _role_word(role: str) -> str:
    return str(ROLE_WORDS[OperatorRole(role)])


def _send_invitation(request: HttpRequest, email: str, role: str, token: str) -> None:
    link = request.build_absolute_uri(reverse("operator:invitation", args=[token]))
    send_mail(
        subject=_("You are invited to the coalition's operator console"),
        message=_(
            "You have been invited to work in the coalition's operator console as %(role)s.\n\n"
            "Accept the invitation and choose a password here (the link works once, "
            "for 7 days):\n%(link)s\n"
        )
        % {"role": _role_word(role), "link": link},
        from_email=None,
        recipient_list=[email],
    )


@operator_page("manage_operators")
@require_http_methods(["GET", "POST"])
def staff_list(request: HttpRequest) -> HttpResponseBase:
    """The list, with the invitation form (its POST invites)."""
    if request.method == "GET" and request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        if request.GET.get("table") == "invitations":
            return csv_response(
                "operator-invitations.csv",
                ["email", "role", "invited_by", "sent_at", "expires_at"],
                (
                    [i.email, i.role, i.invited_by.email if i.invited_by else "",
                     i.created_at.isoformat(), i.expires_at.isoformat()]
                    for i in selectors.operator_invitations_pending(now=clock.now()).iterator()
                ),
            )  # fmt: skip
        return csv_response(
            "operator-staff.csv",
            ["email", "role", "two_step_sign_in", "since"],
            (
                [m.user.email, m.role, "on" if m.two_step_on else "off",
                 m.created_at.isoformat()]
                for m in selectors.operators_listed().iterator()
            ),
        )  # fmt: skip
    form = OperatorInviteForm(request.POST or None, initial={"request_key": uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation, token = services.operator_invite(
                email=data["email"],
                role=data["role"],
                request_key=f"operator-staff:{data['request_key']}",
                acting_user=request.user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            if token is not None:  # None: this form was sent before, its e-mail is out
                _send_invitation(request, invitation.email, invitation.role, token)
            messages.success(
                request,
                _("Invitation sent to %(email)s as %(role)s.")
                % {"email": invitation.email, "role": _role_word(invitation.role)},
            )
            return HttpResponseRedirect(reverse("operator:staff"))
    csv_query = "format=csv" if may(request, "export") else ""
    return render_page(
        request,
        "loyalty_web/operator/staff.html",
        operator_context(
            request,
            "staff",
            form=form,
            rows=[
                {"membership": m, "role": _role_word(m.role)} for m in selectors.operators_listed()
            ],
            invitations=[
                {"invitation": i, "role": _role_word(i.role)}
                for i in selectors.operator_invitations_pending(now=clock.now())
            ],
            role_choices=[(role.value, ROLE_WORDS[role]) for role in OperatorRole],
            csv_query=csv_query,
        ),
        status=400 if form.errors else 200,
    )


@operator_page("manage_operators")
@require_POST
def staff_role(request: HttpRequest, user_id: int) -> HttpResponseBase:
    form = OperatorRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role: admin, finance, support or read-only"))
        return HttpResponseRedirect(reverse("operator:staff"))
    try:
        membership = services.operator_role_change(
            user_id=user_id, role=form.cleaned_data["role"], acting_user=request.user
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(email)s is now %(role)s.")
            % {"email": membership.user.email, "role": _role_word(membership.role)},
        )
    return HttpResponseRedirect(reverse("operator:staff"))


@operator_page("manage_operators")
@require_http_methods(["GET", "POST"])
def staff_remove(request: HttpRequest, user_id: int) -> HttpResponseBase:
    membership = selectors.operator_of(user_id)
    if membership is None:
        if request.method == "POST":  # the button pressed twice: already done
            messages.info(request, _("That person is no longer operator staff."))
            return HttpResponseRedirect(reverse("operator:staff"))
        raise Http404
    if request.method == "POST":
        try:
            services.operator_remove(user_id=user_id, acting_user=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("%(email)s no longer has access to the operator console.")
                % {"email": membership.user.email},
            )
        return HttpResponseRedirect(reverse("operator:staff"))
    return render_page(
        request,
        "loyalty_web/operator/staff_remove.html",
        operator_context(
            request, "staff", membership=membership, role_word=_role_word(membership.role)
        ),
    )


@operator_page("manage_operators")
@require_POST
def invitation_withdraw(request: HttpRequest, invitation_id: int) -> HttpResponseBase:
    if services.operator_invitation_revoke(invitation_id=invitation_id, acting_user=request.user):
        messages.success(request, _("Invitation withdrawn."))
    else:
        messages.info(request, _("That invitation was already used, withdrawn or expired."))
    return HttpResponseRedirect(reverse("operator:staff"))


@web_view
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee's page, on the public host: choose a password, then signed in."""
    try:
        invitation = services.operator_invitation_find(token=token)
    except DomainError as error:
        return render(
            request,
            "loyalty_web/operator/invitation_invalid.html",
            {"message": error.message},
            status=404,
        )
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.operator_invitation_accept(
                token=token, password=form.cleaned_data["password"]
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            start_operator_session(request, membership.user)
            messages.success(request, _("Welcome. You can now use the operator console."))
            return HttpResponseRedirect(after_sign_in(membership.user, reverse("operator:home")))
    return render_page(
        request,
        "loyalty_web/operator/invitation_accept.html",
        {"invitation": invitation, "role_word": _role_word(invitation.role), "form": form},
        status=400 if form.errors else 200,
    )
