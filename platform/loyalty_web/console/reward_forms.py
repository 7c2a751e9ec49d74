"""The form of the reward pages. It turns fields into ``reward_create`` and
``reward_update`` arguments; whether a reward is valid is the domain's to say
(``tenants.rewards.services``), and its message lands next to the field it names."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty_web.console.campaign_forms import DATETIME_FORMATS, IdempotentForm, in_zone

CHANNELS = [
    ("pos", _("At the till (point of sale)")),
    ("online", _("Online shop")),
    ("app", _("Apps and the member portal")),
]


def _optional_datetime(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": _("Enter a date and time, like 2027-01-31 09:00")},
    )


class RewardForm(IdempotentForm):
    code = forms.SlugField(
        label=_("Code"),
        max_length=40,
        help_text=_(
            "How tills and apps name the reward, like free-coffee. Letters, digits, dashes "
            "and underscores. It cannot change later."
        ),
        error_messages={
            "required": _("Enter the reward's code"),
            "invalid": _(
                "Enter a code of letters, digits, dashes or underscores, like free-coffee"
            ),
        },
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=120,
        help_text=_("Members see it in the catalogue, like 'Free coffee'"),
        error_messages={"required": _("Enter the reward's name")},
    )
    description = forms.CharField(
        label=_("Description (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    category = forms.CharField(
        label=_("Category (optional)"),
        max_length=60,
        required=False,
        help_text=_("Members can filter the catalogue by it, like drinks or travel"),
    )
    points_price = forms.IntegerField(
        label=_("Price in points"),
        min_value=1,
        error_messages={
            "required": _("Enter the price in points"),
            "invalid": _("Enter a whole number of points, like 500"),
            "min_value": _("Enter a price of 1 point or more"),
        },
    )
    stock = forms.IntegerField(
        label=_("Stock left (optional)"),
        required=False,
        min_value=0,
        help_text=_("How many more can be redeemed. Leave empty for no limit."),
        error_messages={
            "invalid": _("Enter a whole number, like 100"),
            "min_value": _("Enter a stock of 0 or more"),
        },
    )
    per_member_limit = forms.IntegerField(
        label=_("Limit per member (optional)"),
        required=False,
        min_value=1,
        help_text=_("How many times one member may redeem it. Leave empty for no limit."),
        error_messages={
            "invalid": _("Enter a whole number, like 1"),
            "min_value": _("Enter a limit of 1 or more, or leave it empty"),
        },
    )
    valid_from = _optional_datetime(_("Valid from (optional)"))
    valid_until = _optional_datetime(_("Valid until (optional)"))
    channels = forms.MultipleChoiceField(
        label=_("Where members can redeem it"),
        choices=CHANNELS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    voucher_validity_days = forms.IntegerField(
        label=_("Days a voucher stays valid"),
        min_value=1,
        initial=90,
        error_messages={
            "required": _("Enter how many days a voucher stays valid"),
            "invalid": _("Enter a whole number of days, like 90"),
            "min_value": _("Enter 1 day or more"),
        },
    )
    in_catalogue = forms.BooleanField(
        label=_("Offer it to every member in the coalition catalogue"),
        required=False,
        initial=True,
        help_text=_("Untick to keep it for your own tills and apps only."),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["code"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("valid_from"), data.get("valid_until")
        if starts and ends and ends <= starts:
            self.add_error("valid_until", _("Enter a date after the 'valid from' date"))
        return data

    def settings(self, zone: str) -> dict[str, Any]:
        """The service's arguments, with local times as instants in ``zone``."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "category": data["category"],
            "points_price": data["points_price"],
            "stock": data["stock"],
            "per_member_limit": data["per_member_limit"],
            "valid_from": in_zone(data["valid_from"], zone) if data["valid_from"] else None,
            "valid_until": in_zone(data["valid_until"], zone) if data["valid_until"] else None,
            "channels": list(data["channels"]),
            "voucher_validity_days": data["voucher_validity_days"],
            "in_catalogue": data["in_catalogue"],
        }
