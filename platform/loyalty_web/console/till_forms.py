"""Forms of the till: a voucher code, a points payment (member and amount), a
capture (all or part) and the hidden key that makes a double submit do one thing."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import uuid4

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty_kernel.money import MINOR_UNITS


def new_key() -> str:
    return uuid4().hex


class VoucherLookupForm(forms.Form):
    code = forms.CharField(
        label=_("Voucher code"),
        max_length=40,
        help_text=_(
            "As the member shows it: 13 letters and digits. "
            "Dashes, spaces and small letters do not matter."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
        error_messages={"required": _("Enter the voucher code")},
    )


class KeyedForm(forms.Form):
    """A form whose hidden key is sent once per page: pressing the button twice
    (or the browser sending the form again) does the thing once."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=120)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("idempotency_key", new_key())


class VoucherUseForm(KeyedForm):
    code = forms.CharField(widget=forms.HiddenInput, max_length=40)


def parse_amount(text: str, currency: str) -> int | None:
    """Money typed at a till, in major units, to minor units: "12.50" and "12,50"
    are both twelve and a half; None when it is not an amount of this currency."""
    cleaned = text.strip().replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    places = MINOR_UNITS.get(currency, 2)
    if not value.is_finite() or value != value.quantize(Decimal(1).scaleb(-places)):
        return None
    return int(value.scaleb(places))


class AmountField(forms.CharField):
    """An amount of the partner's currency, typed with a point or a comma."""

    def __init__(self, *, currency: str, **kwargs: Any) -> None:
        self.currency = currency
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if text in (None, ""):
            return None
        minor = parse_amount(text, self.currency)
        if minor is None:
            places = MINOR_UNITS.get(self.currency, 2)
            example = "12" if places == 0 else "12." + "5" + "0" * (places - 1)
            raise forms.ValidationError(
                _("Enter an amount in %(currency)s, like %(example)s")
                % {"currency": self.currency, "example": example}
            )
        if minor <= 0:
            raise forms.ValidationError(_("Enter an amount of more than 0"))
        return minor


class PaymentForm(forms.Form):
    """Who pays with points and how much of the basket the points pay."""

    member = forms.CharField(
        label=_("Member number or card number"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": _("Enter the member number or card number")},
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = AmountField(
            currency=currency,
            label=_("Amount to pay with points (%(currency)s)") % {"currency": currency},
            help_text=_("For example 12.50 or 12,50."),
            error_messages={"required": _("Enter the amount to pay with points")},
        )


class PaymentConfirmForm(KeyedForm):
    member = forms.CharField(widget=forms.HiddenInput, max_length=254)
    amount = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class CaptureForm(KeyedForm):
    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = AmountField(
            currency=currency,
            label=_("Amount to take (%(currency)s)") % {"currency": currency},
            help_text=_("The whole amount authorised, or less when the basket cost less."),
            error_messages={"required": _("Enter the amount to take")},
        )


class VoidForm(KeyedForm):
    pass
