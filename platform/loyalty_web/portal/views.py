"""The member portal's pages: joining, signing in (code or link), signing out, home."""

from __future__ import annotations

from contextlib import suppress

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.wallet import member_wallet
from coalition.member_auth.services import member_sign_out_everywhere
from coalition.member_auth.sign_in import (
    member_sign_in_complete,
    member_sign_in_start,
    member_sign_in_with_link,
)
from coalition.members.errors import EmailAlreadyEnrolled
from coalition.members.services import member_enrol
from coalition.tiers.progress import tier_progress
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_web.design import signing_in
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.ledger_words import kind_label
from loyalty_web.design.pages import render_page, web_view
from loyalty_web.portal.access import (
    SIGN_IN_URL,
    end_member_session,
    member_page,
    portal_context,
    signed_in_member,
    start_member_session,
)
from loyalty_web.portal.forms import JoinForm, SignInCodeForm, SignInForm

HOME = "/portal/"
CODE_URL = "/portal/sign-in/code/"
LINK_URL = "/portal/sign-in/link/"
RECENT_ACTIVITY = 5  # the home's last movements across brands
SESSION_SIGN_IN = "portal_sign_in"  # the address a code was asked for, and where to go


def _next_url(request: HttpRequest) -> str:
    wanted = signing_in.safe_next_url(request, HOME)
    return wanted if wanted.startswith(HOME) else HOME


def _code_sent(request: HttpRequest, form: forms.Form, email: str, next_url: str) -> bool:
    """Ask the domain to e-mail a code and a link, and remember the address for the
    code page; the domain's refusal (too many e-mails) shows on the form."""
    try:
        member_sign_in_start(
            email=email,
            ip=signing_in.client_ip(request),
            link_url=request.build_absolute_uri(LINK_URL + "?t="),
        )
    except DomainError as error:
        show_domain_error(form, error)
        return False
    request.session[SESSION_SIGN_IN] = {"email": email, "next": next_url}
    return True


@web_view
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    if signed_in_member(request) is not None:
        return HttpResponseRedirect(HOME)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # An enrolled address gets the same answer: a sign-in e-mail either way.
            with suppress(EmailAlreadyEnrolled):
                member_enrol(
                    email=data["email"],
                    marketing_email_consent=data["marketing_email_consent"],
                    idempotency=IdempotencyKey("portal:join", data["idempotency_key"]),
                )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            if _code_sent(request, form, data["email"], HOME):
                return HttpResponseRedirect(CODE_URL)
    return render_page(
        request,
        "loyalty_web/portal/join.html",
        portal_context(request, "", form=form),
        status=400 if form.errors else 200,
    )


@web_view
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    if signed_in_member(request) is not None:
        return HttpResponseRedirect(next_url)
    form = SignInForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _code_sent(request, form, form.cleaned_data["email"], next_url)
    ):
        return HttpResponseRedirect(CODE_URL)
    return render_page(
        request,
        "loyalty_web/portal/sign_in.html",
        portal_context(request, "", form=form, next=next_url),
        status=400 if form.errors else 200,
    )


@web_view
@require_http_methods(["GET", "POST"])
def sign_in_code(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(SESSION_SIGN_IN)
    if not pending:
        return HttpResponseRedirect(SIGN_IN_URL)
    form = SignInCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = member_sign_in_complete(email=pending["email"], code=form.cleaned_data["code"])
        except DomainError as error:
            show_domain_error(form, error)
        else:
            start_member_session(request, member)
            return HttpResponseRedirect(pending.get("next") or HOME)
    return render_page(
        request,
        "loyalty_web/portal/sign_in_code.html",
        portal_context(
            request,
            "",
            form=form,
            email=pending["email"],
            minutes=settings.LOYALTY_MEMBER_SIGN_IN_CODE_SECONDS // 60,
        ),
        status=400 if form.errors else 200,
    )


@web_view
@require_http_methods(["GET", "POST"])
def sign_in_link(request: HttpRequest) -> HttpResponse:
    """A GET only shows a button (mail scanners open links); the POST signs in."""
    token = request.POST.get("t") or request.GET.get("t") or ""
    error = None
    if request.method == "POST":
        try:
            member = member_sign_in_with_link(token=token)
        except DomainError as problem:
            error = problem.message
        else:
            start_member_session(request, member)
            return HttpResponseRedirect(HOME)
    return render_page(
        request,
        "loyalty_web/portal/sign_in_link.html",
        portal_context(request, "", token=token, error=error),
        status=400 if error else 200,
    )


@web_view
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    end_member_session(request)
    messages.info(request, _("You have signed out."))
    return HttpResponseRedirect(SIGN_IN_URL)


@member_page
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    member_sign_out_everywhere(member=request.member)  # type: ignore[attr-defined]
    end_member_session(request)
    messages.info(request, _("You have signed out on every device."))
    return HttpResponseRedirect(SIGN_IN_URL)


@member_page
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    now = clock.now()
    wallet = member_wallet(member.pk, now=now)
    recent = ledger_selectors.history(member.pk, limit=RECENT_ACTIVITY).items
    return render_page(
        request,
        "loyalty_web/portal/home.html",
        portal_context(
            request,
            "home",
            wallet=wallet,
            tier=tier_progress(member.pk, now=now),
            recent=[
                {
                    "at": item.created_at,
                    "what": kind_label(item.kind),
                    "points": item.points,
                    "partner": item.partner_name or "",
                }
                for item in recent
            ],
        ),
    )
