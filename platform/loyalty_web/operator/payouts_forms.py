"""Forms of the payout pages: the filters of the payouts list, and the buttons
that pay, retry or reconcile, each with a hidden idempotency key made when the
form is shown, so a second press finds the first request instead of a new one."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _


class PayoutFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Stripe state"), required=False)
    period = forms.TypedChoiceField(label=_("Period"), required=False, coerce=int, empty_value=None)

    def __init__(
        self, *args: Any, statuses: list[tuple[str, Any]], periods: list[int], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        status = cast(forms.ChoiceField, self.fields["status"])
        status.choices = [("", _("Any state")), *statuses]
        period = cast(forms.ChoiceField, self.fields["period"])
        period.choices = [("", _("Every period")), *[(n, str(n)) for n in periods]]


class PayoutRequestForm(forms.Form):
    """A button: retry a payout, pay a period, or reconcile."""

    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=120, initial=lambda: uuid.uuid4().hex
    )
