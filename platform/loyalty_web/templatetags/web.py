"""Template filters of the design system: ``{{ amount|money:currency }}``,
``{{ points|points }}``, and ``{% field form.email %}`` for a labelled field
with its hint and error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from loyalty_web.design.formatting import format_money, format_points, format_rate

register = template.Library()


@register.filter
def money(amount_minor: int | None, currency: str) -> str:
    return "" if amount_minor is None else format_money(int(amount_minor), currency)


@register.filter
def points(value: int | None) -> str:
    return "" if value is None else format_points(int(value))


@register.filter
def rate(value: Decimal | None, currency: str) -> str:
    """A price per point: ``{{ line.rate|rate:currency }}``."""
    return "" if value is None else format_rate(Decimal(value), currency)


@register.filter
def svg(markup: str) -> SafeString:
    """Mark a chart drawn by ``design.charts`` (which escapes every text) as safe."""
    return mark_safe(markup)  # noqa: S308


@register.inclusion_tag("loyalty_web/components/field.html")
def field(bound_field: Any, hint: str = "") -> dict[str, Any]:
    return {"field": bound_field, "hint": hint or bound_field.help_text}
