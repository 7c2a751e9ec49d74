"""Forms of the programme pages: stores, an editor per earn rule kind, the preview
basket, publication and the value of a point.

A rule form only turns fields into the rule's parameters (``to_params``) and back
(``initial_from``); whether the rule is valid is the engine's to say
(``tenants.earning.engine.validate_rule``), and its message lands on the form.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty_kernel.money import MINOR_UNITS
from loyalty_web.design.rule_words import ROUNDING_WORDS
from tenants.earning.engine import ROUNDING_MODES
from tenants.stores.models import StoreChannel

TIME_ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})


def _currency_field(**extra: Any) -> forms.CharField:
    return forms.CharField(
        label=_("Currency"),
        max_length=3,
        min_length=3,
        help_text=_("Three letters, like EUR or GBP"),
        error_messages={"required": _("Enter a currency, like EUR")},
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
        **extra,
    )


def _clean_currency(value: str) -> str:
    value = value.strip().upper()
    if value not in MINOR_UNITS:
        raise forms.ValidationError(_("Enter a currency code we know, like EUR or GBP"))
    return value


# --- stores ---------------------------------------------------------------------------


class StoreForm(forms.Form):
    code = forms.CharField(
        label=_("Store code"),
        max_length=32,
        help_text=_(
            "How tills and apps name this store on every receipt, like MAD-01. "
            "It cannot change later."
        ),
        error_messages={"required": _("Enter a store code, like MAD-01")},
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        error_messages={"required": _("Enter the store's name")},
    )
    channel = forms.ChoiceField(
        label=_("Kind of store"),
        choices=[(value, _(label)) for value, label in StoreChannel.choices],
        initial=StoreChannel.POS,
    )
    city = forms.CharField(label=_("City"), max_length=120, required=False)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[(zone, zone) for zone in TIME_ZONES],
        help_text=_("The store's local time: daily limits and receipts' days use it."),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["code"]


# --- earn rules ----------------------------------------------------------------------------


class RuleForm(forms.Form):
    """The fields every rule has; subclasses add their kind's fields."""

    kind: ClassVar[str] = ""
    name = forms.CharField(
        label=_("Name (optional)"),
        max_length=120,
        required=False,
        help_text=_("A few words staff will recognise, like 'Double points on fruit'"),
    )

    def to_params(self) -> dict[str, Any]:
        return {}

    @classmethod
    def initial_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        return {}


def _multiplier_field() -> forms.DecimalField:
    return forms.DecimalField(
        label=_("Multiplier"),
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=3,
        help_text=_("2 doubles the points, 1.5 gives half as many again"),
        error_messages={"required": _("Enter a multiplier, like 2")},
    )


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


class BaseRateForm(RuleForm):
    kind = "base_rate"
    rate = forms.DecimalField(
        label=_("Points per currency unit spent"),
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=3,
        help_text=_("1 gives 1 point for every 1.00 spent"),
        error_messages={"required": _("Enter the points per currency unit, like 1")},
    )
    currency = _currency_field()

    def clean_currency(self) -> str:
        return _clean_currency(self.cleaned_data["currency"])

    def to_params(self) -> dict[str, Any]:
        return {"rates": {self.cleaned_data["currency"]: _text(self.cleaned_data["rate"])}}

    @classmethod
    def initial_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        rates = params.get("rates") or {}
        currency, rate = next(iter(rates.items()), ("", ""))
        return {"currency": currency, "rate": rate}


class _KeyedForm(RuleForm):
    key: ClassVar[str] = "category"
    value_name: ClassVar[str] = "multiplier"

    def to_params(self) -> dict[str, Any]:
        value = self.cleaned_data[self.value_name]
        return {
            self.key: self.cleaned_data[self.key].strip(),
            self.value_name: _text(value) if isinstance(value, Decimal) else value,
        }

    @classmethod
    def initial_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        return {cls.key: params.get(cls.key, ""), cls.value_name: params.get(cls.value_name)}


_CATEGORY = {
    "label": _("Category"),
    "max_length": 60,
    "help_text": _("As your tills send it, like fresh or coffee"),
    "error_messages": {"required": _("Enter a category, like fresh")},
}
_SKU = {
    "label": _("Product code (SKU)"),
    "max_length": 60,
    "help_text": _("As your tills send it"),
    "error_messages": {"required": _("Enter a product code")},
}


def _points_per_unit() -> forms.IntegerField:
    return forms.IntegerField(
        label=_("Extra points per item"),
        min_value=0,
        max_value=1_000_000,
        error_messages={"required": _("Enter the extra points for each item, like 10")},
    )


class CategoryMultiplierForm(_KeyedForm):
    kind = "category_multiplier"
    category = forms.CharField(**_CATEGORY)  # type: ignore[arg-type]
    multiplier = _multiplier_field()


class SkuMultiplierForm(_KeyedForm):
    kind = "sku_multiplier"
    key = "sku"
    sku = forms.CharField(**_SKU)  # type: ignore[arg-type]
    multiplier = _multiplier_field()


class CategoryBonusForm(_KeyedForm):
    kind = "category_bonus"
    value_name = "points_per_unit"
    category = forms.CharField(**_CATEGORY)  # type: ignore[arg-type]
    points_per_unit = _points_per_unit()


class SkuBonusForm(_KeyedForm):
    kind = "sku_bonus"
    key = "sku"
    value_name = "points_per_unit"
    sku = forms.CharField(**_SKU)  # type: ignore[arg-type]
    points_per_unit = _points_per_unit()


class ExcludeCategoriesForm(RuleForm):
    kind = "exclude_categories"
    categories = forms.CharField(
        label=_("Categories"),
        max_length=1000,
        help_text=_("Separated by commas, like gift_cards, tobacco"),
        error_messages={"required": _("Enter at least one category")},
    )

    def to_params(self) -> dict[str, Any]:
        parts = [part.strip() for part in self.cleaned_data["categories"].split(",")]
        return {"categories": [part for part in parts if part]}

    @classmethod
    def initial_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"categories": ", ".join(params.get("categories") or [])}


class IncludeTaxForm(RuleForm):
    kind = "include_tax"


class IncludeTipsForm(RuleForm):
    kind = "include_tips"


class MinimumSpendForm(RuleForm):
    kind = "minimum_spend"
    amount = forms.DecimalField(
        label=_("Minimum spend"),
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=3,
        help_text=_("Below this amount of spend that earns, a receipt earns nothing"),
        error_messages={"required": _("Enter an amount, like 5.00")},
    )
    currency = _currency_field()

    def clean_currency(self) -> str:
        return _clean_currency(self.cleaned_data["currency"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency, amount = data.get("currency"), data.get("amount")
        if currency and amount is not None:
            minor = amount.scaleb(MINOR_UNITS[currency])
            if minor != minor.to_integral_value():
                self.add_error(
                    "amount", _("Enter an amount with no more decimals than the currency has")
                )
            data["minor"] = int(minor)
        return data

    def to_params(self) -> dict[str, Any]:
        return {"amounts": {self.cleaned_data["currency"]: self.cleaned_data["minor"]}}

    @classmethod
    def initial_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        currency, minor = next(iter((params.get("amounts") or {}).items()), ("", 0))
        amount = Decimal(int(minor)).scaleb(-MINOR_UNITS.get(currency, 2)) if currency else None
        return {"currency": currency, "amount": amount}


class TierMultiplierForm(RuleForm):
    kind = "tier_multiplier"
    tier = forms.CharField(
        label=_("Tier code"),
        max_length=40,
        help_text=_("Like gold or silver"),
        error_messages={"required": _("Enter a tier code, like gold")},
    )
    multiplier = _multiplier_field()

    def to_params(self) -> dict[str, Any]:
        return {
            "multipliers": {
                self.cleaned_data["tier"].strip(): _text(self.cleaned_data["multiplier"])
            }
        }

    @classmethod
    def initial_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        tier, multiplier = next(iter((params.get("multipliers") or {}).items()), ("", None))
        return {"tier": tier, "multiplier": multiplier}


class RoundingForm(RuleForm):
    kind = "rounding"
    mode = forms.ChoiceField(
        label=_("How to round a receipt's points"),
        choices=[(mode, ROUNDING_WORDS[mode]) for mode in ROUNDING_MODES],
        widget=forms.RadioSelect,
    )

    def to_params(self) -> dict[str, Any]:
        return {"mode": self.cleaned_data["mode"]}

    @classmethod
    def initial_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"mode": params.get("mode")}


class _CapForm(RuleForm):
    points = forms.IntegerField(
        label=_("Most points"),
        min_value=0,
        max_value=100_000_000,
        error_messages={"required": _("Enter the most points, like 1000")},
    )

    def to_params(self) -> dict[str, Any]:
        return {"points": self.cleaned_data["points"]}

    @classmethod
    def initial_from(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"points": params.get("points")}


class ReceiptCapForm(_CapForm):
    kind = "receipt_cap"


class DailyCapForm(_CapForm):
    kind = "daily_cap"


RULE_FORMS: dict[str, type[RuleForm]] = {
    form.kind: form
    for form in (
        BaseRateForm,
        CategoryMultiplierForm,
        SkuMultiplierForm,
        CategoryBonusForm,
        SkuBonusForm,
        ExcludeCategoriesForm,
        IncludeTaxForm,
        IncludeTipsForm,
        MinimumSpendForm,
        TierMultiplierForm,
        RoundingForm,
        ReceiptCapForm,
        DailyCapForm,
    )
}


class DraftForm(forms.Form):
    description = forms.CharField(
        label=_("What changes in this version (optional)"),
        max_length=200,
        required=False,
    )


class PublishForm(forms.Form):
    when = forms.ChoiceField(
        label=_("When should these rules start?"),
        choices=[("now", _("Now")), ("later", _("At a date and time"))],
        initial="now",
        widget=forms.RadioSelect,
    )
    effective_from = forms.DateTimeField(
        label=_("Start date and time"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": _("Enter a date and time, like 2027-01-31 09:00")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        later = data.get("when") == "later"
        if later and not data.get("effective_from") and "effective_from" not in self.errors:
            self.add_error("effective_from", _("Enter the date and time the rules start"))
        return data


class PointValueForm(forms.Form):
    value = forms.DecimalField(
        label=_("What one point pays for"),
        max_digits=14,
        decimal_places=7,
        error_messages={
            "required": _("Enter what one point pays for, like 0.01"),
            "invalid": _("Enter a number, like 0.01"),
            "max_decimal_places": _("Enter a value with fewer decimals"),
            "max_digits": _("Enter a smaller value"),
            "max_whole_digits": _("Enter a smaller value"),
        },
    )


# --- the preview basket --------------------------------------------------------------


class PreviewForm(forms.Form):
    currency = _currency_field()
    basket = forms.CharField(
        label=_("Basket lines"),
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=_(
            "One line per product: product code, category, quantity, unit price. "
            "For example: APPLE-1, fruit, 3, 0.50"
        ),
        error_messages={"required": _("Enter at least one basket line")},
    )
    tier = forms.CharField(
        label=_("Member's tier (optional)"),
        max_length=40,
        required=False,
        help_text=_("Like gold; leave empty for a member without a tier"),
    )
    first_purchase = forms.BooleanField(label=_("The member's first purchase here"), required=False)

    def clean_currency(self) -> str:
        return _clean_currency(self.cleaned_data["currency"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency, text = data.get("currency"), data.get("basket")
        if not currency or not text:
            return data
        lines = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            parts = [part.strip() for part in raw.replace(";", ",").replace("\t", ",").split(",")]
            if len(parts) != 4:
                self.add_error(
                    "basket",
                    _("Line %(n)s: write product code, category, quantity, unit price")
                    % {"n": number},
                )
                return data
            sku, category, quantity, price = parts
            try:
                units = int(quantity)
                minor = Decimal(price).scaleb(MINOR_UNITS[currency])
            except (ValueError, ArithmeticError):
                self.add_error(
                    "basket",
                    _(
                        "Line %(n)s: the quantity is a whole number and the price a number, "
                        "like 2.50"
                    )
                    % {"n": number},
                )
                return data
            if minor != minor.to_integral_value() or minor < 0 or units <= 0:
                self.add_error(
                    "basket",
                    _("Line %(n)s: enter a quantity of 1 or more and a price of 0 or more "
                      "with no more decimals than the currency has") % {"n": number},
                )  # fmt: skip
                return data
            lines.append((sku, category, units, int(minor)))
        if len(lines) > 50:
            self.add_error("basket", _("Enter 50 lines or fewer"))
        data["lines"] = lines
        return data
