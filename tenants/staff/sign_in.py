"""The password step of signing in, for partner staff and operator staff alike
(``coalition.operators`` reuses it with no partner): the lock-out is checked
first, a failure is counted for the address, and a success clears the count
unless a two-step code is still to come.

The same refusal answers an unknown address, a wrong password and a person
without a role here, so the form does not tell who works here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.contrib.auth import authenticate

from loyalty_kernel.errors import DomainError
from tenants.staff.lockout import failure_record, failures_clear, refuse_when_locked_out
from tenants.staff.two_factor import two_factor_enabled

Membership = TypeVar("Membership")


def password_check(
    *,
    partner_id: int | None,
    email: str,
    password: str,
    ip: str | None,
    now: datetime,
    membership_of: Callable[[Any], Membership | None],
    refusal: DomainError,
) -> tuple[Any, Membership]:
    """The user and their membership (``membership_of(user)``), or ``refusal``.
    Failures are recorded even though the caller gets an error (nothing to roll
    back)."""
    email = (email or "").strip().lower()
    refuse_when_locked_out(partner_id=partner_id, email=email, now=now)
    user = authenticate(username=email, password=password) if email and password else None
    membership = membership_of(user) if user is not None else None
    if user is None or membership is None:
        failure_record(partner_id=partner_id, email=email, ip=ip, now=now)
        raise refusal
    if not two_factor_enabled(user):
        # With two-step sign-in on, the failures are cleared by the code only: a
        # known password must not reset the count of guessed codes.
        failures_clear(partner_id=partner_id, email=email)
    return user, membership
