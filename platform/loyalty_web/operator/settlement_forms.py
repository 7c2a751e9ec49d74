"""The form of the operator's period close: the period the check page showed, the
reason an early close needs, and an idempotency key made when the page is shown,
so a double press closes once."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _


class PeriodCloseForm(forms.Form):
    period = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(
        label=_("Reason for closing early"),
        max_length=500,
        required=False,  # the domain decides: only an early close needs one
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Kept with the period and in the audit log with your name, for example: "
            "partner leaving the coalition at the end of the week."
        ),
        error_messages={"max_length": _("Keep the reason to 500 characters or fewer")},
    )
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=120, initial=lambda: uuid.uuid4().hex
    )
