"""Forms of the console's member pages: a return of a purchase's units, a points
adjustment and the days of the adjustments list. The look-up box is the operator
console's too, in ``loyalty_web.design.member_pages``."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty_web.design.history_filters import DayRangeForm


class ReturnForm(forms.Form):
    """One quantity per line that still has units to return, and the key that makes
    a second press of the button return nothing more."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=120)

    def __init__(self, *args: Any, lines: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("idempotency_key", uuid4().hex)
        self.line_fields: list[tuple[Any, str]] = []
        for line in lines:
            left = line.quantity - line.returned_quantity
            if left <= 0:
                continue
            name = f"line_{line.line_number}"
            self.fields[name] = forms.IntegerField(
                label=_("Line %(number)s: %(sku)s") % {"number": line.line_number, "sku": line.sku},
                min_value=0,
                max_value=left,
                initial=0,
                required=False,
                help_text=_("%(left)s of %(quantity)s units can still be returned")
                % {"left": left, "quantity": line.quantity},
                error_messages={
                    "max_value": _("Return at most %(limit_value)s units of this line"),
                    "min_value": _("Enter 0 or more units"),
                    "invalid": _("Enter a whole number of units"),
                },
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )
            self.line_fields.append((line, name))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not self.quantities():
            first = self.line_fields[0][1] if self.line_fields else None
            self.add_error(first, _("Enter how many units of at least one line come back"))
        return data

    def quantities(self) -> dict[int, int]:
        return {
            line.line_number: int(self.cleaned_data.get(name) or 0)
            for line, name in self.line_fields
            if self.cleaned_data.get(name)
        }


class Radios(forms.RadioSelect):
    """Radio buttons whose group is labelled by its first button, so the error
    summary's link moves the focus to the group (Django labels a group with nothing)."""

    def id_for_label(self, id_: str, index: str | None = None) -> str:
        return super().id_for_label(id_, "0" if index is None else index)


class AdjustmentForm(forms.Form):
    """A points adjustment: add or take back, how many, and why. The hidden key
    makes a second press of the confirm button post nothing more."""

    ADD, TAKE_BACK = "add", "take_back"

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=120)
    direction = forms.ChoiceField(
        label=_("Add or take back"),
        choices=[(ADD, _("Add points to the member")), (TAKE_BACK, _("Take points back"))],
        widget=Radios,
        error_messages={"required": _("Choose whether to add points or take points back")},
    )
    points = forms.IntegerField(
        label=_("Points"),
        min_value=1,
        max_value=10_000_000,
        error_messages={
            "required": _("Enter a number of points of 1 or more"),
            "min_value": _("Enter a number of points of 1 or more"),
            "max_value": _("Enter at most 10,000,000 points"),
            "invalid": _("Enter a whole number of points"),
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        error_messages={
            "required": _("Enter the reason for this adjustment"),
            "max_length": _("Keep the reason to 200 characters"),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("idempotency_key", uuid4().hex)

    def signed_points(self) -> int:
        """The points as the domain takes them: negative to take back."""
        points = int(self.cleaned_data["points"])
        return -points if self.cleaned_data["direction"] == self.TAKE_BACK else points


class AdjustmentFilterForm(DayRangeForm):
    """The days of the partner's adjustments list (its own calendar days, both ends
    included)."""
