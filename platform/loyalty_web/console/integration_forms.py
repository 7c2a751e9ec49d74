"""Forms of the Integration pages: an API key and a webhook endpoint.

Each create form carries an idempotency key (a hidden field made when the form is
shown), so a double submit creates one key or one endpoint. Whether the input is
acceptable beyond its shape is the domain's to say (``coalition.api_keys``,
``coalition.webhooks``); its message lands on the field it names.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from coalition.api_keys.models import PARTNER_SCOPES
from coalition.webhooks.models import WEBHOOK_EVENTS

# What each scope lets an app do, for the people choosing them. A scope added to
# the domain's list without a sentence here is offered with its name alone.
SCOPE_DESCRIPTIONS = {
    "read": _("Read members, balances, rewards, stores and the programme."),
    "members": _("Enrol members and change their details."),
    "earn": _("Record purchases and returns, so members earn points."),
    "redeem": _("Redeem rewards and take payments in points at the till."),
    "settlement": _("Read settlement statements and your position in the coalition."),
    "configure": _("Change the programme: stores, earn rules and the value of a point."),
    "adjust": _("Add or take away a member's points as a goodwill gesture or a correction."),
}

EVENT_DESCRIPTIONS = {
    "points_earned": _("A member earned points with you (a purchase was recorded)."),
    "points_redeemed": _("A member spent points with you (a reward or a payment in points)."),
    "points_adjusted": _("Your staff or app added points to a member or took some back."),
    "tier_changed": _("A member moved up or down a tier."),
    "statement_closed": _("A settlement statement for your business was closed."),
}


class Checkboxes(forms.CheckboxSelectMultiple):
    """Checkboxes whose group is labelled by its first box, so the error summary's
    link moves the focus to the group (Django labels a group with nothing)."""

    def id_for_label(self, id_: str, index: str | None = None) -> str:
        return super().id_for_label(id_, "0" if index is None else index)


def _idempotency_field() -> forms.CharField:
    return forms.CharField(
        widget=forms.HiddenInput, max_length=120, initial=lambda: uuid.uuid4().hex
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=120,
        help_text=_("Who will use the key, so you recognise it later, like “Web shop” or “Tills”."),
        error_messages={"required": _("Enter a name for the key, like the app that will use it")},
    )
    scopes = forms.MultipleChoiceField(
        label=_("What the key may do"),
        widget=Checkboxes,
        error_messages={"required": _("Choose at least one thing the key may do")},
    )
    idempotency_key = _idempotency_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per request: the sentences are in the reader's language.
        self.described = [
            (scope, str(SCOPE_DESCRIPTIONS.get(scope, ""))) for scope in PARTNER_SCOPES
        ]
        self.fields["scopes"].choices = [(scope, scope) for scope, _ in self.described]  # type: ignore[attr-defined]


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label=_("Address (URL)"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Where we send events, like https://shop.example.com/loyalty/events."),
        error_messages={
            "required": _("Enter the address we should send events to"),
            "invalid": _("Enter a full web address, like https://shop.example.com/events"),
        },
        widget=forms.URLInput(attrs={"spellcheck": "false"}),
    )
    events = forms.MultipleChoiceField(
        label=_("Events to send"),
        widget=Checkboxes,
        choices=[(event, event) for event in WEBHOOK_EVENTS],
        error_messages={"required": _("Choose at least one event to send")},
    )
    idempotency_key = _idempotency_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.described = [
            (event, str(EVENT_DESCRIPTIONS.get(event, ""))) for event in WEBHOOK_EVENTS
        ]
