"""Forms of the operator console."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from coalition.operators.models import OperatorRole
from loyalty_web.console.programme_forms import TIME_ZONES
from loyalty_web.operator.access import ROLE_WORDS


class OnboardForm(forms.Form):
    name = forms.CharField(
        label=_("Partner name"),
        max_length=200,
        help_text=_("As members see it, for example Alpha Grocers."),
        error_messages={"required": _("Enter the partner's name")},
    )
    slug = forms.CharField(
        label=_("Short name (slug)"),
        max_length=42,
        help_text=_(
            "3 to 42 lowercase letters, digits or hyphens, starting with a letter. "
            "It names the partner's host, for example alpha.localhost, and cannot change."
        ),
        error_messages={"required": _("Enter a short name, like alpha-grocers")},
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )
    default_currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        help_text=_("The 3-letter ISO 4217 code the partner settles in, like EUR or GBP."),
        error_messages={"required": _("Enter the partner's currency, like EUR")},
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "characters"}),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[(zone, zone) for zone in TIME_ZONES],
        initial="Europe/Madrid",
        help_text=_("The partner's local time: its days and reports follow it."),
    )
    contact_email = forms.EmailField(
        label=_("Contact e-mail address"),
        help_text=_("Where the coalition writes to the partner; Stripe also uses it."),
        error_messages={
            "required": _("Enter the partner's contact e-mail address"),
            "invalid": _("Enter an e-mail address in the right format, like name@example.com"),
        },
    )
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=80)


class OwnerForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address of the first owner"),
        help_text=_(
            "We e-mail them a link to the partner's console. It works once, for 7 days; "
            "the owner then invites the rest of their staff."
        ),
        error_messages={
            "required": _("Enter the e-mail address of the person to invite"),
            "invalid": _("Enter an e-mail address in the right format, like name@example.com"),
        },
    )


class StatusForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the partner's status history."),
        error_messages={"required": _("Say why, for the partner's status history")},
    )


class PartnerFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or slug contains"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), required=False)
    currency = forms.CharField(label=_("Currency"), required=False, max_length=3)

    def __init__(self, *args: Any, statuses: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status = cast(forms.ChoiceField, self.fields["status"])
        status.choices = [("", _("Any status")), *statuses]


def _role_choices() -> list[tuple[str, Any]]:
    return [(role.value, ROLE_WORDS[role]) for role in OperatorRole]


class OperatorInviteForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("We e-mail an invitation link to this address. It works once, for 7 days."),
        error_messages={
            "required": _("Enter the e-mail address of the person to invite"),
            "invalid": _("Enter an e-mail address in the right format, like name@example.com"),
        },
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=_role_choices,
        initial=OperatorRole.READ_ONLY,
        help_text=_(
            "Admins run everything, including operator staff; finance runs settlement and "
            "pay-outs; support helps members; read-only reads. Admins and finance must set up "
            "two-step sign-in."
        ),
    )
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=80)


class OperatorRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices)


class TermsForm(forms.Form):
    """New settlement terms. The rules (not negative, percentages, the effective
    date) are the domain's: the fields only parse numbers, so a negative rate
    reaches ``proposals.terms_propose`` and comes back as its typed error."""

    effective_on = forms.DateField(
        label=_("Takes effect on"),
        required=False,
        help_text=_(
            "Leave empty for now. A date takes effect at midnight in the partner's time zone."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter a date, like 2027-01-31")},
    )
    issuance_price = forms.DecimalField(
        label=_("Issuance price per point"),
        max_digits=14,
        decimal_places=6,
        help_text=_("In minor units (cents): what the partner pays for each point it issues."),
        error_messages={"required": _("Enter the issuance price, like 1.0")},
    )
    reimbursement_rate = forms.DecimalField(
        label=_("Reimbursement rate per point"),
        max_digits=14,
        decimal_places=6,
        help_text=_("In minor units (cents): what the partner receives for each point it honours."),
        error_messages={"required": _("Enter the reimbursement rate, like 0.8")},
    )
    fee_percent = forms.DecimalField(
        label=_("Fee (% of the issued amount)"),
        max_digits=7,
        decimal_places=4,
        initial=0,
        help_text=_("From 0 to 100."),
        error_messages={"required": _("Enter the fee percentage, or 0")},
    )
    fee_fixed = forms.IntegerField(
        label=_("Fixed fee per month"),
        initial=0,
        help_text=_("In minor units (cents), billed once per calendar month."),
        error_messages={"required": _("Enter the fixed fee, or 0")},
    )
    breakage_share_percent = forms.DecimalField(
        label=_("Breakage share (%)"),
        max_digits=7,
        decimal_places=4,
        initial=0,
        help_text=_(
            "From 0 to 100: the part of the issuance price of its expired points the "
            "partner gets back."
        ),
        error_messages={"required": _("Enter the breakage share, or 0")},
    )


class TermsConfirmForm(forms.Form):
    """What the preview showed, sent back to be set: the instant it takes effect is
    fixed by the preview (so a second press finds the same version)."""

    effective_from = forms.DateTimeField(widget=forms.HiddenInput)
    issuance_price = forms.DecimalField(max_digits=14, decimal_places=6, widget=forms.HiddenInput)
    reimbursement_rate = forms.DecimalField(
        max_digits=14, decimal_places=6, widget=forms.HiddenInput
    )
    fee_percent = forms.DecimalField(max_digits=7, decimal_places=4, widget=forms.HiddenInput)
    fee_fixed = forms.IntegerField(widget=forms.HiddenInput)
    breakage_share_percent = forms.DecimalField(
        max_digits=7, decimal_places=4, widget=forms.HiddenInput
    )
    wizard = forms.BooleanField(required=False, widget=forms.HiddenInput)
