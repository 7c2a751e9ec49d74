"""Forms of the operator's programme pages: a tier level, the tier policy, a
charity, the expiry policy and the transfer caps table. They check only the shape
of the input; the rules (thresholds that increase, a short name taken, ISO country
codes) are the domain services'."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from coalition.expiry.models import ExpiryMode
from coalition.tiers.models import QualificationPeriod
from coalition.transfers.models import TransferKind
from loyalty_web.design.forms import whole_number_field

QUALIFICATION_WORDS: dict[str, Any] = {
    QualificationPeriod.ROLLING_12_MONTHS: _("Rolling 12 months"),
    QualificationPeriod.CALENDAR_YEAR: _("Calendar year"),
}


class TierLevelForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=60,
        help_text=_("As members see it, for example Gold."),
        error_messages={"required": _("Enter the level's name")},
    )
    threshold_points = whole_number_field(
        _("Qualifying points"),
        min_value=0,
        help_text=_("Points a member must earn in the qualification period to reach this level."),
        required=_("Enter the qualifying points, like 5000"),
        invalid=_("Enter a whole number of points, like 5000"),
        too_small=_("Qualifying points cannot be negative"),
    )


class TierLevelAddForm(TierLevelForm):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        help_text=_(
            "1 to 20 lowercase letters, digits, hyphens or underscores, for example gold. "
            "Transfer caps and the API use it; it cannot change."
        ),
        error_messages={"required": _("Enter a code, like gold")},
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=80)

    field_order = ("code", "name", "threshold_points", "request_key")


class TierPolicyForm(forms.Form):
    qualification = forms.ChoiceField(
        label=_("Qualification period"),
        choices=list(QUALIFICATION_WORDS.items()),
        help_text=_("The points that count: those earned in the last 12 months, or this year."),
    )
    grace_days = whole_number_field(
        _("Grace before a downgrade (days)"),
        min_value=0,
        help_text=_("How long a member found below their level keeps it."),
        required=_("Enter the days of grace, like 30"),
        invalid=_("Enter a whole number of days, like 30"),
        too_small=_("Days of grace cannot be negative"),
    )


class CharityForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=120,
        help_text=_("As members see it when they donate."),
        error_messages={"required": _("Enter the charity's name")},
    )
    registration_number = forms.CharField(
        label=_("Registration number"),
        max_length=60,
        required=False,
        help_text=_("Optional: the charity's number in its country's register."),
    )
    point_value = forms.DecimalField(
        label=_("Value of a point (minor units)"),
        min_value=0,
        max_digits=14,
        decimal_places=6,
        initial=0,
        help_text=_("What settlement pays the charity per donated point, in cents, like 0.5."),
        error_messages={
            "required": _("Enter the value of a point, like 0.5"),
            "invalid": _("Enter a number, like 0.5"),
            "min_value": _("A point's value cannot be negative"),
        },
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
    )
    stripe_account_id = forms.CharField(
        label=_("Stripe account"),
        max_length=80,
        required=False,
        help_text=_("Optional until the first payout: the charity's Stripe Connect account."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )


class CharityAddForm(CharityForm):
    slug = forms.CharField(
        label=_("Short name (slug)"),
        max_length=40,
        help_text=_("2 to 40 lowercase letters, digits or hyphens. It cannot change."),
        error_messages={"required": _("Enter a short name, like red-cross")},
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        initial="EUR",
        help_text=_("The 3-letter ISO 4217 code the charity is paid in, like EUR."),
        error_messages={"required": _("Enter the currency, like EUR")},
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "characters"}),
    )
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=80)

    field_order = (
        "slug", "name", "registration_number", "currency", "point_value",
        "stripe_account_id", "request_key",
    )  # fmt: skip


EXPIRY_MODE_WORDS: dict[str, Any] = {
    ExpiryMode.FIXED: _("Fixed months after earning"),
    ExpiryMode.INACTIVITY: _("After months without activity"),
}


class ExpiryPolicyForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("When points expire"),
        choices=list(EXPIRY_MODE_WORDS.items()),
    )
    months = whole_number_field(
        _("Months after earning"),
        min_value=1,
        help_text=_("With fixed months: each point expires this long after it was earned."),
        required=_("Enter the months, like 24"),
        invalid=_("Enter a whole number of months, like 24"),
        too_small=_("Enter at least 1 month"),
    )
    inactivity_months = whole_number_field(
        _("Months without activity"),
        min_value=1,
        help_text=_(
            "With inactivity, and always in the countries below: a member with no earning, "
            "spending, transfer or donation this long loses their points."
        ),
        required=_("Enter the months, like 24"),
        invalid=_("Enter a whole number of months, like 24"),
        too_small=_("Enter at least 1 month"),
    )
    reminder_days = whole_number_field(
        _("Reminder (days before)"),
        min_value=1,
        help_text=_("Members are e-mailed this many days before their points expire."),
        required=_("Enter the days, like 30"),
        invalid=_("Enter a whole number of days, like 30"),
        too_small=_("Enter at least 1 day"),
    )
    inactivity_only_countries = forms.CharField(
        label=_("Countries with inactivity-only expiry"),
        required=False,
        max_length=1000,
        help_text=_(
            "ISO 3166 two-letter codes separated by commas or spaces, like DE, FR. "
            "Where the law forbids points expiring by time alone."
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "characters"}),
    )

    def clean_inactivity_only_countries(self) -> list[str]:
        text = self.cleaned_data.get("inactivity_only_countries") or ""
        return [code for code in re.split(r"[\s,;]+", text.upper()) if code]


TRANSFER_KIND_WORDS: dict[str, Any] = {
    TransferKind.TRANSFER: _("Member to member"),
    TransferKind.HOUSEHOLD: _("Household pooling"),
}


class TransferCapsForm(forms.Form):
    """One optional whole number per kind and tier row of the caps table; the
    field names are ``<kind>__<tier code>`` (an empty tier code: the default)."""

    def __init__(self, *args: Any, rows: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cells: list[tuple[str, str]] = []
        for row in rows:
            for kind in TransferKind.values:
                name = f"{kind}__{row.tier_code}"
                self.cells.append((kind, row.tier_code))
                self.fields[name] = forms.IntegerField(
                    required=False,
                    min_value=0,
                    initial=row.caps[kind],
                    error_messages={
                        "invalid": _("Enter a whole number of points, or leave it empty"),
                        "min_value": _("A cap cannot be negative"),
                    },
                    widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
                )

    def caps(self) -> dict[tuple[str, str], int | None]:
        return {
            (kind, tier_code): self.cleaned_data.get(f"{kind}__{tier_code}")
            for kind, tier_code in self.cells
        }


def _rule_points(label: Any, help_text: Any) -> forms.IntegerField:
    return whole_number_field(
        label,
        min_value=0,
        help_text=help_text,
        required=_("Enter a number of points, like 1000"),
        invalid=_("Enter a whole number of points, like 1000"),
        too_small=_("Enter 0 or more points"),
    )


class CoalitionRulesForm(forms.Form):
    adjustment_daily_cap = _rule_points(
        _("Partner adjustments per day (points)"),
        _(
            "The points each partner may add to or take back from members' wallets per day, "
            "in its time zone. 0 stops partners adjusting points."
        ),
    )
    goodwill_approval_threshold = _rule_points(
        _("Goodwill given without a second operator (points)"),
        _(
            "Coalition-funded goodwill above this needs a second operator's approval. "
            "0 sends every goodwill for approval."
        ),
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=200,
        help_text=_("Kept in the audit log with the change."),
        error_messages={
            "required": _("Enter the reason for this change"),
            "max_length": _("Keep the reason to 200 characters"),
        },
    )
