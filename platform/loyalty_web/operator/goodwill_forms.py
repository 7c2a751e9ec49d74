"""Forms of coalition goodwill: the proposal (points, reason and the form's
one-time key) and a rejection's reason."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from coalition.goodwill.services import MAX_POINTS, MAX_REASON_LENGTH


class GoodwillProposalForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"),
        min_value=1,
        max_value=MAX_POINTS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={
            "required": _("Enter the number of points to give"),
            "invalid": _("Enter a whole number of points"),
            "min_value": _("Enter a whole number of points above 0"),
            "max_value": _("Give at most 10,000,000 points at a time"),
        },
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Kept in the audit log with your name and shown to the approver, for example: "
            "parcel lost by the courier, order 4411."
        ),
        error_messages={
            "required": _("Say why, for the member's record in the audit log"),
            "max_length": _("Keep the reason to 200 characters or fewer"),
        },
    )
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=80)


class GoodwillRejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for rejecting"),
        max_length=MAX_REASON_LENGTH,
        error_messages={
            "required": _("Say why you reject it, for the proposer and the audit log"),
            "max_length": _("Keep the reason to 200 characters or fewer"),
        },
    )
