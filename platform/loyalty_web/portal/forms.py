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


class RewardFilterForm(forms.Form):
    """The catalogue's filters, read from the query string (the back button works)."""

    q = forms.CharField(label=_("Search"), required=False, max_length=80)
    partner = forms.TypedChoiceField(
        label=_("Partner"), required=False, coerce=int, empty_value=None
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    min_points = forms.IntegerField(
        label=_("From (points)"), required=False, min_value=0, max_value=10**9,
        error_messages={"min_value": _("Enter 0 or more points")},
    )  # fmt: skip
    max_points = forms.IntegerField(
        label=_("Up to (points)"), required=False, min_value=0, max_value=10**9,
        error_messages={"min_value": _("Enter 0 or more points")},
    )  # fmt: skip
    affordable = forms.BooleanField(label=_("Only rewards I can afford now"), required=False)

    def __init__(
        self,
        *args: object,
        partners: list[tuple[int, str]],
        categories: list[str],
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        partner_field = self.fields["partner"]
        if isinstance(partner_field, forms.TypedChoiceField):
            partner_field.choices = [("", _("Every partner")), *partners]
        category_field = self.fields["category"]
        if isinstance(category_field, forms.ChoiceField):
            # Partners name their categories; they are shown as typed, capitalised.
            category_field.choices = [
                ("", _("Every category")),
                *((category, category.capitalize()) for category in categories),
            ]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        low, high = data.get("min_points"), data.get("max_points")
        if isinstance(low, int) and isinstance(high, int) and high < low:
            self.add_error("max_points", _("Enter a number of points no lower than the first"))
        return data


class RedeemForm(forms.Form):
    """Confirming a redemption; its key (made when the page is shown) makes a
    double submit redeem once."""

    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=120, initial=lambda: uuid.uuid4().hex
    )
