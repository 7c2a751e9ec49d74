"""Forms of the campaign pages (and the idempotent-form base the reward form shares).
A form turns fields into the service's arguments; whether a campaign is valid is
the domain's to say (``tenants.earning.engine.validate_campaign``), and its message
lands next to the field it names."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]

CAMPAIGN_KINDS = [
    ("multiplier", _("Multiply the points of every purchase")),
    ("category_multiplier", _("Multiply the points on one category")),
    ("bonus", _("Bonus points on every purchase")),
    ("first_purchase_bonus", _("Bonus points on a member's first purchase")),
]
MULTIPLIER_KINDS = ("multiplier", "category_multiplier")


def _local_datetime(label: Any, required_message: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": required_message,
            "invalid": _("Enter a date and time, like 2027-01-31 09:00"),
        },
    )


def new_request_key() -> str:
    """A form's idempotency key: the same form submitted twice does its work once."""
    return uuid4().hex


class IdempotentForm(forms.Form):
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=80, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("request_key", new_request_key())

    def key(self) -> str:
        return self.cleaned_data.get("request_key") or new_request_key()


def in_zone(value: datetime, zone: str) -> datetime:
    """A datetime typed in the partner's local time, as an instant."""
    return timezone.make_aware(value.replace(tzinfo=None), ZoneInfo(zone))


class CampaignForm(IdempotentForm):
    name = forms.CharField(
        label=_("Name"),
        max_length=120,
        help_text=_("Staff and the rule preview show it, like 'Double points weekend'"),
        error_messages={"required": _("Enter the campaign's name")},
    )
    kind = forms.ChoiceField(
        label=_("What the campaign gives"),
        choices=CAMPAIGN_KINDS,
        initial="multiplier",
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what the campaign gives")},
    )
    multiplier = forms.DecimalField(
        label=_("Multiplier"),
        required=False,
        min_value=Decimal("1.001"),
        max_digits=8,
        decimal_places=3,
        help_text=_("For a multiplier: 2 doubles the points, 1.5 gives half as many again"),
        error_messages={"min_value": _("Enter a multiplier of more than 1, like 2")},
    )
    category = forms.CharField(
        label=_("Category"),
        max_length=60,
        required=False,
        help_text=_("For a category multiplier: the category as tills send it, like fruit"),
    )
    points = forms.IntegerField(
        label=_("Bonus points"),
        required=False,
        min_value=1,
        help_text=_("For a bonus: the points each qualifying purchase gets"),
        error_messages={"min_value": _("Enter a whole number of points of 1 or more")},
    )
    starts_at = _local_datetime(_("Starts"), _("Enter the date and time the campaign starts"))
    ends_at = _local_datetime(_("Ends"), _("Enter the date and time the campaign ends"))
    tiers = forms.MultipleChoiceField(
        label=_("Only members of these tiers"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    segments = forms.MultipleChoiceField(
        label=_("Only members of these segments"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    budget_points = forms.IntegerField(
        label=_("Budget in points (optional)"),
        required=False,
        min_value=0,
        help_text=_(
            "The most points the campaign may give in all. Once spent, it gives no more. "
            "Leave empty for no limit."
        ),
        error_messages={"min_value": _("Enter a budget of 0 points or more")},
    )

    def __init__(
        self,
        *args: Any,
        tiers: list[tuple[str, str]] | None = None,
        segments: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tiers"].choices = tiers or []  # type: ignore[attr-defined]
        self.fields["segments"].choices = [  # type: ignore[attr-defined]
            (name, name) for name in segments or []
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        wants_multiplier = kind in MULTIPLIER_KINDS and data.get("multiplier") is None
        if wants_multiplier and "multiplier" not in self.errors:
            self.add_error("multiplier", _("Enter a multiplier, like 2"))
        if kind == "category_multiplier" and not (data.get("category") or "").strip():
            self.add_error("category", _("Enter the category the multiplier applies to"))
        wants_points = kind in ("bonus", "first_purchase_bonus") and data.get("points") is None
        if wants_points and "points" not in self.errors:
            self.add_error("points", _("Enter the bonus points, like 100"))
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("Enter an end after the start"))
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["kind"]
        if kind in MULTIPLIER_KINDS:
            params: dict[str, Any] = {"multiplier": f"{data['multiplier'].normalize():f}"}
            if kind == "category_multiplier":
                params["category"] = data["category"].strip()
            return params
        return {"points": data["points"]}

    def field_of(self, error_field: str | None) -> str | None:
        """The form field a domain error names (the engine says "params")."""
        if error_field == "params":
            kind = self.cleaned_data.get("kind")
            if kind in MULTIPLIER_KINDS:
                return "multiplier"
            return "points"
        return error_field if error_field in self.fields else None
