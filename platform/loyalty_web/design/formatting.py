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


def format_rate(rate_minor: Decimal, currency: str) -> str:
    """A price per point (kept in minor units, with decimals) in major units, as
    precise as it was set: ``format_rate(Decimal("0.8"), "EUR")`` is ``"0.008 EUR"``."""
    value = rate_minor.scaleb(-MINOR_UNITS.get(currency, 2)).normalize()
    places = max(-int(value.as_tuple().exponent), 0)
    value = value.quantize(Decimal(1).scaleb(-places))
    return f"{number_format(value, decimal_pos=places, force_grouping=True)} {currency}"
