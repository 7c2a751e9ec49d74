"""Forms of the member portal's sign-up and sign-in. The join form carries an
idempotency key (made when the form is shown), so a double submit enrols once."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _


def _email_field() -> forms.EmailField:
    return forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        error_messages={
            "required": _("Enter your e-mail address"),
            "invalid": _("Enter an e-mail address like name@example.com"),
        },
    )


class JoinForm(forms.Form):
    email = _email_field()
    marketing_email_consent = forms.BooleanField(
        label=_("Send me offers from the coalition's partners by e-mail"),
        help_text=_("Optional. You can change this at any time."),
        required=False,
    )
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=120, initial=lambda: uuid.uuid4().hex
    )


class SignInForm(forms.Form):
    email = _email_field()


class SignInCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the e-mail"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
        error_messages={"required": _("Enter the 6-digit code from the e-mail")},
    )
