"""ISO 4217 currencies the platform accepts, with their minor-unit exponent.

Money is integer minor units plus a currency; the exponent says how many minor
units make a major one (2 for EUR, 0 for JPY, 3 for KWD).
"""

from __future__ import annotations

from decimal import Decimal

MINOR_UNITS: dict[str, int] = {
    "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2,
    "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
    "KRW": 0, "KWD": 3, "MAD": 2, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3,
    "PEN": 2, "PHP": 2, "PLN": 2, "QAR": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2,
    "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip

CURRENCY_CHOICES = [(code, code) for code in sorted(MINOR_UNITS)]


def is_known_currency(code: str) -> bool:
    return code in MINOR_UNITS


def money(amount_minor: int, currency: str) -> dict[str, str]:
    """Money as the API and webhook payloads show it: a decimal string in major
    units (never a float) and the currency."""
    exponent = MINOR_UNITS.get(currency, 2)
    value = Decimal(amount_minor).scaleb(-exponent)
    return {"amount": f"{value:.{exponent}f}", "currency": currency}


def format_money(amount_minor: int, currency: str) -> str:
    """Money for people to read, in major units: ``format_money(255, "EUR")`` is
    ``"2.55 EUR"``."""
    shown = money(amount_minor, currency)
    return f"{shown['amount']} {shown['currency']}"
