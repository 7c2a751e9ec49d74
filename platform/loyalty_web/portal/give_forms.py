"""Forms of the portal's give-and-share pages. Forms that move points carry an
idempotency key (made when the form is first shown, kept through the check page),
so a double submit moves points once."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


def _points_field(label: StrOrPromise) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=10**12,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": _("Enter a number of points"),
            "invalid": _("Enter a whole number of points, like 100"),
            "min_value": _("Enter a points value of 1 or more"),
            "max_value": _("Enter a smaller number of points"),
        },
    )


def _key_field() -> forms.CharField:
    return forms.CharField(
        widget=forms.HiddenInput, max_length=120, initial=lambda: uuid.uuid4().hex
    )


class DonateForm(forms.Form):
    points = _points_field(_("Points to give"))
    idempotency_key = _key_field()


class TransferForm(forms.Form):
    recipient = forms.CharField(
        label=_("Their member number or e-mail address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": _("Enter the member number or e-mail address to send to")},
    )
    points = _points_field(_("Points to send"))
    idempotency_key = _key_field()


class HouseholdCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Household name"),
        max_length=120,
        error_messages={"required": _("Enter a name for your household, like The Garcias")},
    )


class HouseholdInviteForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address to invite"),
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={
            "required": _("Enter the e-mail address of the person to invite"),
            "invalid": _("Enter an e-mail address like name@example.com"),
        },
    )


class PoolForm(forms.Form):
    points = _points_field(_("Points to pool"))
    idempotency_key = _key_field()
