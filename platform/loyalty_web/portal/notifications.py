"""The portal's e-mail choices: a switch per kind of notification on the profile
page (each change recorded with the other profile changes), and the public
unsubscribe page an e-mail links to, which works without signing in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from coalition.notifications.errors import InvalidUnsubscribeLink
from coalition.notifications.models import NotificationKind
from coalition.notifications.selectors import notification_enabled, notification_preferences
from coalition.notifications.services import (
    CHANGE_FIELD,
    notification_preferences_save,
    notification_unsubscribe,
    unsubscribe_token_read,
)
from loyalty_web.design.pages import render_page, web_view
from loyalty_web.portal.access import member_page, portal_context

PROFILE_NOTIFICATIONS_URL = "/portal/profile/#notifications"

# What each kind is called on the page, and a hint under its switch.
KIND_LABELS = {
    NotificationKind.POINTS_EARNED: gettext_lazy("A summary of the points you earned"),
    NotificationKind.REWARD_REDEEMED: gettext_lazy("Your voucher when you redeem a reward"),
    NotificationKind.POINTS_EXPIRING: gettext_lazy("A reminder before your points expire"),
    NotificationKind.TIER_CHANGED: gettext_lazy("News when your tier changes"),
}
KIND_HINTS = {
    NotificationKind.POINTS_EARNED: gettext_lazy(
        "At most once a day, only on days you earned points."
    ),
    NotificationKind.REWARD_REDEEMED: gettext_lazy("With the code and where to use it."),
    NotificationKind.POINTS_EXPIRING: gettext_lazy("Some weeks before points expire."),
    NotificationKind.TIER_CHANGED: gettext_lazy("When you move up or down a tier."),
}
# How a recorded change of a switch reads among the profile's recent changes.
CHANGE_LABELS = {CHANGE_FIELD.format(kind=kind.value): label for kind, label in KIND_LABELS.items()}


class NotificationsForm(forms.Form):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for kind, label in KIND_LABELS.items():
            self.fields[kind.value] = forms.BooleanField(label=label, required=False)

    def hinted(self) -> list[tuple[forms.BoundField, str]]:
        return [(self[kind.value], str(KIND_HINTS[kind])) for kind in KIND_LABELS]


def notifications_form(member_id: int) -> NotificationsForm:
    """The profile page's switches, as the member has them now."""
    return NotificationsForm(initial=notification_preferences(member_id))


@member_page
@require_POST
def notifications_save(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    form = NotificationsForm(request.POST)
    form.is_valid()  # check boxes: every value is valid, unticked means off
    changed = notification_preferences_save(
        member_id=member.pk,
        choices={kind.value: bool(form.cleaned_data.get(kind.value)) for kind in KIND_LABELS},
        language=get_language(),
    )
    if changed:
        messages.success(request, _("Your e-mail choices are saved."))
    else:
        messages.info(request, _("Nothing changed."))
    return HttpResponseRedirect(PROFILE_NOTIFICATIONS_URL)


def _unsubscribe_page(
    request: HttpRequest, state: str, kind: NotificationKind | None, token: str, status: int = 200
) -> HttpResponse:
    return render_page(
        request,
        "loyalty_web/portal/unsubscribe.html",
        portal_context(
            request,
            "",
            state=state,
            label=KIND_LABELS[kind] if kind else "",
            token=token,
        ),
        status=status,
    )


# CSRF-exempt on purpose, and only this view: mail clients' one-click unsubscribe
# (RFC 8058) POSTs to the signed link without a session or a CSRF token. The
# signed token is what authorises it, and all it can do is switch e-mails off.
@csrf_exempt
@web_view
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET says what will be switched off and shows a button (mail scanners open
    links, so a GET changes nothing); the POST switches it off."""
    try:
        member_id, kind = unsubscribe_token_read(token)
        if request.method == "GET":
            state = "confirm" if notification_enabled(member_id, kind) else "already"
            return _unsubscribe_page(request, state, kind, token)
        result = notification_unsubscribe(token=token)
    except InvalidUnsubscribeLink:
        return _unsubscribe_page(request, "invalid", None, token, status=400)
    return _unsubscribe_page(request, "done" if result.changed else "already", kind, token)
