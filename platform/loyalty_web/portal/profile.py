"""The portal's profile and privacy pages: contact details, birthday, country and
consents (each change recorded; completing the profile earns the partners'
profile-completion points), and the two data rights confirmed by an e-mailed link:
download all my data (JSON) and erase my account."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from coalition.members.models import PrivacyRequestKind
from coalition.members.privacy import (
    PRIVACY_LINK_MINUTES,
    member_data_export,
    member_erase_confirmed,
    privacy_link_check,
    privacy_request_start,
)
from coalition.members.profile import member_changes, profile_completion
from loyalty_kernel.errors import DomainError
from loyalty_web.design.forms import show_domain_error
from loyalty_web.design.pages import render_page
from loyalty_web.portal.access import SIGN_IN_URL, end_member_session, member_page, portal_context
from loyalty_web.portal.notifications import CHANGE_LABELS, notifications_form
from loyalty_web.portal.profile_forms import ProfileForm
from tenants.earning.profile import member_profile_save

PROFILE_URL = "/portal/profile/"
PRIVACY_URL = "/portal/privacy/"
CONFIRM_URLS = {
    PrivacyRequestKind.EXPORT: "/portal/privacy/export/confirm/",
    PrivacyRequestKind.ERASE: "/portal/privacy/erase/confirm/",
}


# How a recorded change reads on the page.
CHANGE_WORDS = {
    "granted": gettext_lazy("agreed"),
    "withdrawn": gettext_lazy("withdrawn"),
    "changed": gettext_lazy("changed"),
    "removed": gettext_lazy("removed"),
    "on": gettext_lazy("switched on"),
    "off": gettext_lazy("switched off"),
}


def _initial(member: object) -> dict[str, object]:
    names = (
        "phone",
        "birth_date",
        "country",
        "marketing_email_consent",
        "marketing_sms_consent",
        "data_sharing_consent",
    )
    return {name: getattr(member, name) for name in names}


@member_page
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    form = ProfileForm(request.POST or None, initial=_initial(member))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = member_profile_save(
                member_id=member.pk,
                phone=data["phone"] or None,
                birth_date=data["birth_date"],
                country=data["country"] or "",
                marketing_email_consent=data["marketing_email_consent"],
                marketing_sms_consent=data["marketing_sms_consent"],
                data_sharing_consent=data["data_sharing_consent"],
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            if not saved.update.changed:
                messages.info(request, _("Nothing changed."))
            else:
                messages.success(request, _("Your profile is saved."))
            for award in saved.awards:
                messages.success(
                    request,
                    _("Thank you for completing your profile: %(points)s points from %(partner)s.")
                    % {"points": f"{award.points:,}", "partner": award.partner_name},
                )
            return HttpResponseRedirect(PROFILE_URL)
    filled, of = profile_completion(member)
    return render_page(
        request,
        "loyalty_web/portal/profile.html",
        portal_context(
            request,
            "profile",
            form=form,
            filled=filled,
            of=of,
            complete=filled == of,
            notifications=notifications_form(member.pk),
            changes=[
                (
                    ProfileForm.base_fields[c.field].label
                    if c.field in ProfileForm.base_fields
                    else CHANGE_LABELS.get(c.field, c.field),
                    CHANGE_WORDS.get(c.change, c.change),
                    c.changed_at,
                )
                for c in member_changes(member_id=member.pk, limit=10)
            ],
        ),
        status=400 if form.errors else 200,
    )


@member_page
@require_http_methods(["GET"])
def privacy(request: HttpRequest) -> HttpResponse:
    return render_page(
        request,
        "loyalty_web/portal/privacy.html",
        portal_context(request, "profile", minutes=PRIVACY_LINK_MINUTES),
    )


@member_page
@require_POST
def privacy_request(request: HttpRequest, kind: str) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    if kind not in CONFIRM_URLS:
        return HttpResponseRedirect(PRIVACY_URL)
    privacy_request_start(
        member_id=member.pk,
        kind=kind,
        link_url=request.build_absolute_uri(CONFIRM_URLS[PrivacyRequestKind(kind)] + "?t="),
    )
    messages.success(
        request,
        _("We e-mailed a link to %(email)s. Open it within %(minutes)s minutes to confirm.")
        % {"email": member.email, "minutes": PRIVACY_LINK_MINUTES},
    )
    return HttpResponseRedirect(PRIVACY_URL)


def _confirm_page(request: HttpRequest, kind: str, error: str | None) -> HttpResponse:
    return render_page(
        request,
        "loyalty_web/portal/privacy_confirm.html",
        portal_context(
            request,
            "profile",
            kind=kind,
            token=request.POST.get("t") or request.GET.get("t") or "",
            error=error,
        ),
        status=400 if error else 200,
    )


def _confirmed_by_link(
    request: HttpRequest, kind: str, act: Callable[[Any, str], HttpResponse]
) -> HttpResponse:
    """The page a privacy link opens: a GET checks the link and shows a button (mail
    scanners open links); the POST does ``act`` with the member and the link's
    token. A refused link shows the page again with why."""
    member = request.member  # type: ignore[attr-defined]
    token = request.POST.get("t") or request.GET.get("t") or ""
    try:
        if request.method == "GET":
            privacy_link_check(member_id=member.pk, token=token, kind=kind)
            return _confirm_page(request, kind, None)
        return act(member, token)
    except DomainError as error:
        return _confirm_page(request, kind, error.message)


@member_page
@require_http_methods(["GET", "POST"])
def export_confirm(request: HttpRequest) -> HttpResponse:
    """The POST downloads the member's data."""

    def download(member: Any, token: str) -> HttpResponse:
        data = member_data_export(member_id=member.pk, token=token)
        response = HttpResponse(
            json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="my-data-{member.member_number}.json"'
        )
        return response

    return _confirmed_by_link(request, PrivacyRequestKind.EXPORT, download)


@member_page
@require_http_methods(["GET", "POST"])
def erase_confirm(request: HttpRequest) -> HttpResponse:
    """The POST erases the member and signs them out."""

    def erase(member: Any, token: str) -> HttpResponse:
        member_erase_confirmed(member_id=member.pk, token=token)
        end_member_session(request)
        messages.info(request, _("Your account is erased. Thank you for having been a member."))
        return HttpResponseRedirect(SIGN_IN_URL)

    return _confirmed_by_link(request, PrivacyRequestKind.ERASE, erase)
