"""Failed sign-ins per partner and address, and the lock-out they lead to: after
``MAX_FAILURES`` within ``LOCKOUT_WINDOW`` the address is refused until the window
has passed, and the message says for how long. A wrong password and a wrong
two-step code count alike. With no partner (``partner_id=None``) they are the
operator console's sign-ins on the public host, counted apart from every partner's."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet

from tenants.staff.errors import LoginLockedOut
from tenants.staff.models import LoginAttempt

MAX_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)


def _attempts(partner_id: int | None, email: str) -> QuerySet[LoginAttempt]:
    if partner_id is None:
        return LoginAttempt.objects.filter(partner__isnull=True, email=email)
    return LoginAttempt.objects.filter(partner_id=partner_id, email=email)


def refuse_when_locked_out(*, partner_id: int | None, email: str, now: datetime) -> None:
    recent = _attempts(partner_id, email).filter(at__gt=now - LOCKOUT_WINDOW)
    failures = list(recent.order_by("at").values_list("at", flat=True)[:MAX_FAILURES])
    if len(failures) >= MAX_FAILURES:
        unlocks = failures[0] + LOCKOUT_WINDOW
        minutes = max(1, int((unlocks - now).total_seconds() // 60) + 1)
        raise LoginLockedOut(
            f"Too many failed attempts for this address. Try again in {minutes} minutes, "
            "or reset your password."
        )


def failure_record(*, partner_id: int | None, email: str, ip: str | None, now: datetime) -> None:
    """Kept even though the caller then raises: nothing to roll back."""
    LoginAttempt.objects.create(partner_id=partner_id, email=email[:254], ip=ip, at=now)


def failures_clear(*, partner_id: int | None, email: str) -> None:
    _attempts(partner_id, email).delete()
