"""The filters of a member's points history (what happened, where, between which
days), shared by the consoles' member history and the member portal's: the same
form, and the same translation of its days into a half-open window of instants.
Its day range is a form of its own, for the other lists filtered by days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty_web.design.ledger_words import KIND_LABELS


class DayRangeForm(forms.Form):
    """A from-day and a to-day, both optional, both included; the end may not come
    before the start."""

    since = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter a date like 2026-03-31")},
    )
    until = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter a date like 2026-03-31")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since: date | None = data.get("since")
        until: date | None = data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date must be on or after the start date"))
        return data


class HistoryFilterForm(DayRangeForm):
    kind = forms.ChoiceField(label=_("What happened"), required=False)
    partner = forms.ChoiceField(label=_("Where"), required=False)

    # The order the page shows them in (a subclass's own fields would come last).
    field_order = ["kind", "partner", "since", "until"]

    def __init__(self, *args: Any, partners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("Everything")), *KIND_LABELS.items()]  # type: ignore[attr-defined]
        self.fields["partner"].choices = [("", _("Every partner")), *partners]  # type: ignore[attr-defined]


def history_filters(form: HistoryFilterForm, zone: ZoneInfo) -> dict[str, Any]:
    """The ``coalition.ledger.selectors.history`` filters of a valid form; its days
    are whole days in ``zone``, ``until`` included."""
    since = form.cleaned_data.get("since")
    until = form.cleaned_data.get("until")
    return {
        "kind": form.cleaned_data.get("kind") or None,
        "partner_slug": form.cleaned_data.get("partner") or None,
        "occurred_after": datetime.combine(since, time.min, tzinfo=zone) if since else None,
        "occurred_before": (
            datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone) if until else None
        ),
    }
