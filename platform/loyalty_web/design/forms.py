"""Forms people understand: a domain error lands next to the field it names, or at
the top of the form when it names none (the GOV.UK pattern)."""

from __future__ import annotations

from django import forms

from loyalty_kernel.errors import DomainError


def show_domain_error(form: forms.Form, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class TextInput(forms.TextInput):
    template_name = "django/forms/widgets/text.html"
