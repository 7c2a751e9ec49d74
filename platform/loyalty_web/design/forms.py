"""Forms people understand: a domain error lands next to the field it names, or at
the top of the form when it names none (the GOV.UK pattern)."""

from __future__ import annotations

from typing import Any

from django import forms

from loyalty_kernel.errors import DomainError


def show_domain_error(form: forms.Form, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class TextInput(forms.TextInput):
    template_name = "django/forms/widgets/text.html"


def whole_number_field(
    label: Any,
    *,
    min_value: int,
    required: Any,
    invalid: Any,
    too_small: Any,
    help_text: Any = "",
) -> forms.IntegerField:
    """A whole-number input with the three messages a person needs (empty, not a
    number, too small), phones showing the number pad."""
    return forms.IntegerField(
        label=label,
        min_value=min_value,
        help_text=help_text,
        error_messages={"required": required, "invalid": invalid, "min_value": too_small},
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
