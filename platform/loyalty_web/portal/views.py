"""The member portal's pages: signing out and the home page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from loyalty_web.design.pages import render_page, web_view
from loyalty_web.portal.access import (
    SIGN_IN_URL,
    end_member_session,
    member_page,
    portal_context,
    signed_in_member,
)


@member_page
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render_page(request, "loyalty_web/portal/home.html", portal_context(request, "home"))


@web_view
@require_GET
def sign_in(request: HttpRequest) -> HttpResponse:
    if signed_in_member(request) is not None:
        return HttpResponseRedirect("/portal/")
    return render_page(request, "loyalty_web/portal/sign_in.html", portal_context(request, ""))


@web_view
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    end_member_session(request)
    messages.info(request, _("You have signed out."))
    return HttpResponseRedirect(SIGN_IN_URL)
