"""Member numbers: 9 digits from a database sequence plus a Luhn check digit,
so a mistyped number is caught before any look-up."""

from __future__ import annotations


def luhn_check_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def member_number_from_sequence(value: int) -> str:
    body = f"{value:09d}"
    return body + luhn_check_digit(body)


def is_valid_member_number(number: str) -> bool:
    return len(number) == 10 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]
