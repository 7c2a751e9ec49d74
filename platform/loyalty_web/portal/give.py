"""The portal's give-and-share pages: donate points to a charity, send points to
another member, and the household (create, invite, accept, leave, pool to the
head). Each move of points has a check page showing what will happen before the
member confirms; the rules (caps, balances, who may do what) live in
``coalition.charity`` and ``coalition.transfers``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coalition.charity.errors import UnknownCharity
from coalition.charity.selectors import charity_statements
from coalition.charity.services import donation_make
from coalition.ledger.selectors import balance
from coalition.transfers.models import TransferKind
from coalition.transfers.selectors import (
    household_invites_for,
    member_household,
    transfer_allowance,
)
from coalition.transfers.services import (
    household_create,
    household_invite,
    household_invite_accept,
    household_leave,
    household_pool,
    points_transfer,
    transfer_recipient,
)
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.portal.access import member_page, portal_context
from loyalty_web.portal.give_forms import (
    DonateForm,
    HouseholdCreateForm,
    HouseholdInviteForm,
    PoolForm,
    TransferForm,
)

GIVE_URL = "/portal/give/"
HOUSEHOLD_URL = "/portal/household/"


def _key(member_id: int, form: forms.Form) -> IdempotencyKey:
    return IdempotencyKey(f"portal:member:{member_id}", form.cleaned_data["idempotency_key"])


def _confirmed(request: HttpRequest) -> bool:
    return request.POST.get("step") == "confirm"


@member_page
@require_GET
def give(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    charities = [s for s in charity_statements(months=1) if s.charity.is_active]
    return render_page(
        request,
        "loyalty_web/portal/give.html",
        portal_context(
            request,
            "give",
            balance=balance(member.pk),
            charities=charities,
            allowance=transfer_allowance(member_id=member.pk, kind=TransferKind.TRANSFER),
        ),
    )


@member_page
@require_http_methods(["GET", "POST"])
def donate(request: HttpRequest, slug: str) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    try:
        statement = charity_statements(charity_slug=slug, months=1)[0]
    except UnknownCharity:
        raise Http404(_("There is no such charity.")) from None
    if not statement.charity.is_active:
        raise Http404(_("This charity does not accept donations now."))
    form = DonateForm(request.POST or None)
    checking = False
    if request.method == "POST" and form.is_valid():
        if _confirmed(request):
            try:
                donation = donation_make(
                    member_id=member.pk,
                    charity_slug=slug,
                    points=form.cleaned_data["points"],
                    idempotency=_key(member.pk, form),
                )
            except DomainError as error:
                show_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("Thank you: you gave %(points)s points to %(charity)s.")
                    % {"points": f"{donation.points:,}", "charity": statement.charity.name},
                )
                return HttpResponseRedirect(GIVE_URL)
        else:
            checking = True
    points = balance(member.pk)
    wanted = form.cleaned_data.get("points", 0) if checking else 0
    return render_page(
        request,
        "loyalty_web/portal/donate.html",
        portal_context(
            request,
            "give",
            statement=statement,
            form=form,
            checking=checking,
            balance=points,
            wanted=wanted,
            balance_after=points - wanted,
            affordable=points >= wanted,
        ),
        status=400 if form.errors else 200,
    )


@member_page
@require_http_methods(["GET", "POST"])
def transfer(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    form = TransferForm(request.POST or None)
    recipient = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            recipient = transfer_recipient(sender_id=member.pk, query=data["recipient"])
            if _confirmed(request):
                points_transfer(
                    from_member_id=member.pk,
                    to_member_id=recipient.pk,
                    points=data["points"],
                    idempotency=_key(member.pk, form),
                )
        except DomainError as error:
            recipient = None
            show_domain_error(form, error)
        else:
            if _confirmed(request):
                messages.success(
                    request,
                    _("You sent %(points)s points to %(recipient)s.")
                    % {"points": f"{data['points']:,}", "recipient": data["recipient"].strip()},
                )
                return HttpResponseRedirect(GIVE_URL)
    points = balance(member.pk)
    allowance = transfer_allowance(member_id=member.pk, kind=TransferKind.TRANSFER)
    wanted = form.cleaned_data.get("points", 0) if recipient is not None else 0
    return render_page(
        request,
        "loyalty_web/portal/transfer.html",
        portal_context(
            request,
            "give",
            form=form,
            checking=recipient is not None,
            balance=points,
            allowance=allowance,
            wanted=wanted,
            balance_after=points - wanted,
            affordable=points >= wanted,
            within_cap=allowance.left is None or wanted <= allowance.left,
        ),
        status=400 if form.errors else 200,
    )


def _refused(request: HttpRequest, form: forms.Form, error: DomainError, name: str) -> HttpResponse:
    """The household page again with the error next to its field, or at the top
    when it names none of this form's fields (the form may not even be shown)."""
    if error.field in form.fields:
        show_domain_error(form, error)
        return _household_page(request, 400, **{name: form})
    return _household_page(request, 400, problem=error.message)


def _household_form_post(
    request: HttpRequest, form: forms.Form, name: str, act: Callable[[dict[str, Any]], str]
) -> HttpResponse:
    """One of the household page's forms, posted: ``act`` calls the service with the
    valid form's data and says what was done; an invalid form or a refusal shows the
    household page again with it."""
    if not form.is_valid():
        return _household_page(request, 400, **{name: form})
    try:
        done = act(form.cleaned_data)
    except DomainError as error:
        return _refused(request, form, error, name)
    messages.success(request, done)
    return HttpResponseRedirect(HOUSEHOLD_URL)


def _household_page(request: HttpRequest, status: int = 200, **forms_: Any) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    return render_page(
        request,
        "loyalty_web/portal/household.html",
        portal_context(
            request,
            "give",
            mine=member_household(member_id=member.pk),
            invites=household_invites_for(member=member),
            balance=balance(member.pk),
            allowance=transfer_allowance(member_id=member.pk, kind=TransferKind.HOUSEHOLD),
            create_form=forms_.get("create_form") or HouseholdCreateForm(),
            invite_form=forms_.get("invite_form") or HouseholdInviteForm(),
            pool_form=forms_.get("pool_form") or PoolForm(),
            problem=forms_.get("problem"),
        ),
        status=status,
    )


@member_page
@require_GET
def household(request: HttpRequest) -> HttpResponse:
    return _household_page(request)


@member_page
@require_POST
def household_start(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]

    def create(data: dict[str, Any]) -> str:
        household_create(head_member_id=member.pk, name=data["name"])
        return _("Your household is ready. Invite the people you live with.")

    return _household_form_post(request, HouseholdCreateForm(request.POST), "create_form", create)


@member_page
@require_POST
def household_send_invite(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]

    def invite(data: dict[str, Any]) -> str:
        household_invite(
            member_id=member.pk,
            email=data["email"],
            invite_url=request.build_absolute_uri(HOUSEHOLD_URL),
        )
        return _("We e-mailed an invitation to %(email)s. It is valid for 14 days.") % {
            "email": data["email"]
        }

    return _household_form_post(request, HouseholdInviteForm(request.POST), "invite_form", invite)


@member_page
@require_POST
def household_accept(request: HttpRequest, invite_id: int) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    try:
        joined = household_invite_accept(member_id=member.pk, invite_id=invite_id)
    except DomainError as error:
        return _household_page(request, 400, problem=error.message)
    messages.success(
        request, _("You joined the household %(name)s.") % {"name": joined.household.name}
    )
    return HttpResponseRedirect(HOUSEHOLD_URL)


@member_page
@require_POST
def household_quit(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    try:
        household_leave(member_id=member.pk)
    except DomainError as error:
        return _household_page(request, 400, problem=error.message)
    messages.success(request, _("You left the household."))
    return HttpResponseRedirect(HOUSEHOLD_URL)


@member_page
@require_POST
def household_pool_points(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    form = PoolForm(request.POST)

    def pool(data: dict[str, Any]) -> str:
        record = household_pool(
            member_id=member.pk, points=data["points"], idempotency=_key(member.pk, form)
        )
        return _("You pooled %(points)s points to the head of your household.") % {
            "points": f"{record.points:,}"
        }

    return _household_form_post(request, form, "pool_form", pool)
