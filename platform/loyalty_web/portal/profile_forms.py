"""Forms of the portal's profile and privacy pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ProfileForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile phone number"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    birth_date = forms.DateField(
        label=_("Date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date like 1990-04-21")},
    )
    country = forms.CharField(
        label=_("Country"),
        required=False,
        max_length=2,
        widget=forms.TextInput(attrs={"autocomplete": "country", "spellcheck": "false"}),
    )
    marketing_email_consent = forms.BooleanField(
        label=_("Send me offers from the coalition's partners by e-mail"), required=False
    )
    marketing_sms_consent = forms.BooleanField(
        label=_("Send me offers by text message"), required=False
    )
    data_sharing_consent = forms.BooleanField(
        label=_("Partners may use my purchases to tailor their offers to me"), required=False
    )
