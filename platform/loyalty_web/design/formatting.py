"""Money, points and dates as people read them, in the active language."""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import number_format

from loyalty_kernel.money import MINOR_UNITS


def format_money(amount_minor: int, currency: str) -> str:
    exponent = MINOR_UNITS.get(currency, 2)
    value = Decimal(amount_minor).scaleb(-exponent)
    return f"{number_format(value, decimal_pos=exponent, force_grouping=True)} {currency}"


def format_points(points: int) -> str:
    return number_format(points, force_grouping=True)
